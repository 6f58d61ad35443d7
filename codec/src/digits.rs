//! Base-83 digits, least significant first: writing exact expansions of
//! integers of any size a double can hold, and reading digit runs back to the
//! nearest double.

/// The 83 digit characters, value 0 to 82.
pub(crate) const ALPHABET: &[u8; 83] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&',./:;=?@[]^_`{}~";

/// Marks a byte that is not a digit in [`DIGIT_VALUE`].
pub(crate) const NOT_DIGIT: u8 = 0xFF;

/// The value of each byte as a digit, or [`NOT_DIGIT`].
pub(crate) static DIGIT_VALUE: [u8; 256] = {
    let mut t = [NOT_DIGIT; 256];
    let mut i = 0;
    while i < 83 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// True when the byte is a digit character.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn is_digit(b: u8) -> bool {
    DIGIT_VALUE[b as usize] != NOT_DIGIT
}

const BASE: u64 = 83;
/// 83^5, the largest power of 83 below 2^32: the bignum works in chunks of it.
const BASE5: u64 = 83 * 83 * 83 * 83 * 83;

/// Powers of 83 that fit a u64 (83^0 ..= 83^10).
const POW83: [u64; 11] = {
    let mut t = [1u64; 11];
    let mut i = 1;
    while i < 11 {
        t[i] = t[i - 1] * BASE;
        i += 1;
    }
    t
};

/// A byte of a digit buffer: a plain byte, or a byte of a buffer's spare
/// capacity (`MaybeUninit<u8>`), which the writers fill in place.
pub(crate) trait DigitByte: Copy {
    /// The buffer byte holding `b`.
    fn of(b: u8) -> Self;
}

impl DigitByte for u8 {
    #[inline(always)]
    fn of(b: u8) -> u8 {
        b
    }
}

impl DigitByte for std::mem::MaybeUninit<u8> {
    #[inline(always)]
    fn of(b: u8) -> Self {
        std::mem::MaybeUninit::new(b)
    }
}

/// The digit characters padded to 128 entries (with `0`), so that indexing with a
/// value masked to 7 bits needs no bounds check.
static DIGIT_CHAR: [u8; 128] = {
    let mut t = [b'0'; 128];
    let mut i = 0;
    while i < 83 {
        t[i] = ALPHABET[i];
        i += 1;
    }
    t
};

// Every digit character is ASCII: the writers' output is UTF-8 by
// construction (`Out::into_string` relies on it).
const _: () = {
    let mut i = 0;
    while i < ALPHABET.len() {
        assert!(ALPHABET[i].is_ascii());
        i += 1;
    }
};

/// 83^2: digits are produced two at a time.
const BASE2: u64 = BASE * BASE;

/// Writes the digits of `n` into `buf` from index `at` (least significant
/// first) and returns the index after the last. `buf` has room: 16 bytes
/// hold a tag and the at most 11 digits of a u64 (83^10 < 2^64 < 83^11);
/// indices are masked so the compiler needs no bounds checks.
///
/// Two digits per step: the division by 83^2 is the only link of the chain
/// from one step to the next, and the pair splits off it in parallel, so the
/// chain is half as long as one division per digit.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn encode_u64<T: DigitByte>(buf: &mut [T; 16], mut at: usize, mut n: u64) -> usize {
    const B: u32 = BASE as u32;
    const B2: u32 = BASE2 as u32;
    // Writes the two digits of `pair` < 83^2 at `at`.
    let put_pair = |buf: &mut [T; 16], at: usize, pair: u32| {
        let hi = pair / B;
        buf[at & 15] = T::of(DIGIT_CHAR[((pair - hi * B) & 127) as usize]);
        buf[(at + 1) & 15] = T::of(DIGIT_CHAR[(hi & 127) as usize]);
    };
    // Above 2^32 (rare in saves), pairs in 64-bit arithmetic; then in
    // 32-bit arithmetic, whose divisions by a constant are cheaper.
    while n > u64::from(u32::MAX) {
        let q = n / BASE2;
        put_pair(buf, at, (n - q * BASE2) as u32);
        at += 2;
        n = q;
    }
    let mut n = n as u32;
    while n >= B2 {
        let q = n / B2;
        put_pair(buf, at, n - q * B2);
        at += 2;
        n = q;
    }
    if n < B {
        buf[at & 15] = T::of(DIGIT_CHAR[(n & 127) as usize]);
        return at + 1;
    }
    put_pair(buf, at, n);
    at + 2
}

/// Appends the digits of `n` (least significant first) to `out`.
#[inline]
pub(crate) fn write_u64(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 16];
    let end = encode_u64(&mut buf, 0, n);
    out.extend_from_slice(buf.get(..end).unwrap_or_default());
}

/// Appends the digits of `n` to `out`.
pub(crate) fn write_u128(out: &mut Vec<u8>, mut n: u128) {
    while n > u128::from(u64::MAX) {
        out.push(ALPHABET[(n % u128::from(BASE)) as usize]);
        n /= u128::from(BASE);
    }
    write_u64(out, n as u64);
}

const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
const TWO_POW_128: f64 = TWO_POW_64 * TWO_POW_64;

/// Appends the exact digits of a finite, integral, non-negative double.
pub(crate) fn write_f64(out: &mut Vec<u8>, f: f64) {
    debug_assert!(f >= 0.0 && f.is_finite() && f.fract() == 0.0);
    if f < TWO_POW_64 {
        write_u64(out, f as u64);
    } else if f < TWO_POW_128 {
        write_u128(out, f as u128);
    } else {
        write_big(out, f);
    }
}

/// The digits of an integral double of 2^128 or more: mantissa << shift in
/// 32-bit limbs, divided down by 83^5.
fn write_big(out: &mut Vec<u8>, f: f64) {
    let bits = f.to_bits();
    let exp = ((bits >> 52) & 0x7FF) as i64 - 1075;
    let mant = (bits & ((1 << 52) - 1)) | (1 << 52);
    // f = mant * 2^exp with exp > 0 here (f >= 2^128).
    let shift = exp.max(0) as usize;
    let mut limbs = vec![0u32; shift / 32 + 3];
    let (word, bit) = (shift / 32, shift % 32);
    let wide = u128::from(mant) << bit;
    for k in 0..3 {
        limbs[word + k] = (wide >> (32 * k)) as u32;
    }
    while limbs.last() == Some(&0) {
        limbs.pop();
    }
    while !limbs.is_empty() {
        // Divide by 83^5; the remainder gives 5 digits.
        let mut rem: u64 = 0;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / BASE5) as u32;
            rem = cur % BASE5;
        }
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
        if limbs.is_empty() {
            write_u64(out, rem);
        } else {
            for _ in 0..5 {
                out.push(ALPHABET[(rem % BASE) as usize]);
                rem /= BASE;
            }
        }
    }
}

/// A digit run read as an integer: exact when it fits a u64, otherwise the
/// nearest double.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Digits {
    /// The exact integer.
    Int(u64),
    /// The nearest double to a larger integer.
    Big(f64),
}

impl Digits {
    /// The nearest double.
    #[inline]
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Digits::Int(u) => u as f64,
            Digits::Big(f) => f,
        }
    }
}

/// Reads the digit run starting at `pos`. Returns the value and the position
/// after the run; `None` when the run overflows a double.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline)]
pub(crate) fn read(bytes: &[u8], pos: usize) -> (Option<Digits>, usize) {
    let mut acc: u64 = 0;
    let mut i = pos;
    let end10 = bytes.len().min(pos + 10);
    while i < end10 {
        let d = DIGIT_VALUE[bytes[i] as usize];
        if d == NOT_DIGIT {
            return (Some(Digits::Int(acc)), i);
        }
        acc += u64::from(d) * POW83[i - pos];
        i += 1;
    }
    if i >= bytes.len() || !is_digit(bytes[i]) {
        return (Some(Digits::Int(acc)), i);
    }
    read_long(bytes, pos)
}

/// Reads a run of more than 10 digits.
#[cold]
fn read_long(bytes: &[u8], pos: usize) -> (Option<Digits>, usize) {
    let mut end = pos;
    while end < bytes.len() && is_digit(bytes[end]) {
        end += 1;
    }
    (value_of_run(&bytes[pos..end]), end)
}

/// The exact value of a digit run, when it fits a u128.
pub(crate) fn exact_u128(run: &[u8]) -> Option<u128> {
    let mut acc: u128 = 0;
    for &b in run.iter().rev() {
        let d = DIGIT_VALUE[b as usize];
        if d == NOT_DIGIT {
            return None;
        }
        acc = acc
            .checked_mul(u128::from(BASE))?
            .checked_add(u128::from(d))?;
    }
    Some(acc)
}

/// The value of a whole digit run (least significant first).
fn value_of_run(run: &[u8]) -> Option<Digits> {
    // Most significant zero digits change nothing.
    let mut len = run.len();
    while len > 0 && run[len - 1] == b'0' {
        len -= 1;
    }
    let run = &run[..len];
    if run.len() <= 20 {
        let mut acc: u128 = 0;
        for &b in run.iter().rev() {
            acc = acc * u128::from(BASE) + u128::from(DIGIT_VALUE[b as usize]);
        }
        return Some(match u64::try_from(acc) {
            Ok(u) => Digits::Int(u),
            Err(_) => Digits::Big(acc as f64),
        });
    }
    // 83^161 > 2^1026: a run with more significant digits overflows.
    if run.len() > 161 {
        return None;
    }
    let mut limbs: Vec<u32> = Vec::with_capacity(run.len() / 5 + 2);
    // Horner from the most significant digit, in chunks of 5 digits.
    let mut rest = run;
    while !rest.is_empty() {
        let take = match rest.len() % 5 {
            0 => 5,
            r => r,
        };
        let (head, chunk) = rest.split_at(rest.len() - take);
        let mut mul = 1u64;
        let mut add = 0u64;
        for &b in chunk.iter().rev() {
            add = add * BASE + u64::from(DIGIT_VALUE[b as usize]);
            mul *= BASE;
        }
        let mut carry = add;
        for limb in limbs.iter_mut() {
            let cur = u64::from(*limb) * mul + carry;
            *limb = cur as u32;
            carry = cur >> 32;
        }
        while carry != 0 {
            limbs.push(carry as u32);
            carry >>= 32;
        }
        rest = head;
    }
    Some(Digits::Big(limbs_to_f64(&limbs)?))
}

/// The nearest double to a little-endian bignum, or `None` past f64::MAX.
fn limbs_to_f64(limbs: &[u32]) -> Option<f64> {
    let top = limbs.len().checked_sub(1)?;
    let bit_len = top * 32 + (32 - limbs[top].leading_zeros() as usize);
    if bit_len <= 64 {
        let mut u = 0u64;
        for (i, &l) in limbs.iter().enumerate() {
            u |= u64::from(l) << (32 * i);
        }
        return Some(u as f64);
    }
    // The top 64 bits, with a sticky bit for everything below, round once.
    let shift = bit_len - 64;
    let bit = |i: usize| -> u64 { u64::from((limbs[i / 32] >> (i % 32)) & 1) };
    let mut head = 0u64;
    for i in (shift..bit_len).rev() {
        head = (head << 1) | bit(i);
    }
    let (word, within) = (shift / 32, shift % 32);
    let sticky =
        limbs[..word].iter().any(|&l| l != 0) || (limbs[word] & ((1u32 << within) - 1)) != 0;
    let approx = (head | u64::from(sticky)) as f64;
    if shift > 1023 - 63 {
        return None;
    }
    let scale = f64::from_bits(((shift as u64) + 1023) << 52);
    let f = approx * scale;
    f.is_finite().then_some(f)
}

#[cfg(test)]
#[path = "tests/digits.rs"]
mod tests;
