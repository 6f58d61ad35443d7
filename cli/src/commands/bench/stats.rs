//! Latency histograms that merge across processes, and what `/proc` says
//! about this process (CPU time, resident memory).

use serde_json::{json, Value};

/// Sub-buckets per power of two: values are kept within about 4.4%.
const SUB: u32 = 16;
/// Buckets: up to 2^40 µs, far past any latency.
const BUCKETS: usize = (40 * SUB) as usize;

/// A log-linear histogram of latencies in µs.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

fn bucket(us: u64) -> usize {
    let v = us.max(1);
    let exp = 63 - v.leading_zeros();
    let frac = if exp >= 4 {
        (v >> (exp - 4)) & 0xF
    } else {
        (v << (4 - exp)) & 0xF
    };
    ((exp * SUB) as usize + frac as usize).min(BUCKETS - 1)
}

fn value_of(bucket: usize) -> f64 {
    let exp = (bucket as u32) / SUB;
    let frac = (bucket as u32) % SUB;
    (1u64 << exp) as f64 * (1.0 + f64::from(frac) / f64::from(SUB))
}

impl Histogram {
    /// Records one latency.
    pub fn record(&mut self, us: u64) {
        self.counts[bucket(us)] += 1;
        self.total += 1;
    }

    /// How many were recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    /// The latency below which a fraction `q` of the samples fall, in µs.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value_of(i);
            }
        }
        value_of(BUCKETS - 1)
    }

    /// As JSON: the non-empty buckets, `[[bucket, count], ...]`.
    pub fn to_json(&self) -> Value {
        let pairs: Vec<Value> = self
            .counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| json!([i, c]))
            .collect();
        Value::Array(pairs)
    }

    /// Reads what [`to_json`](Self::to_json) wrote.
    pub fn from_json(value: &Value) -> Histogram {
        let mut h = Histogram::default();
        for pair in value.as_array().into_iter().flatten() {
            let (Some(i), Some(c)) = (pair[0].as_u64(), pair[1].as_u64()) else {
                continue;
            };
            if let Some(slot) = h.counts.get_mut(i as usize) {
                *slot += c;
                h.total += c;
            }
        }
        h
    }
}

/// CPU time (user + system) this process used so far, in seconds.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) in parentheses.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line (11, 12 here).
    (ticks(11) + ticks(12)) / 100.0
}

/// Resident memory of this process, in bytes.
pub fn rss_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_five_percent() {
        let mut h = Histogram::default();
        for us in 1..=10_000 {
            h.record(us);
        }
        for (q, want) in [(0.5, 5_000.0), (0.99, 9_900.0), (0.999, 9_990.0)] {
            let got = h.quantile(q);
            assert!((got - want).abs() / want < 0.07, "q{q}: {got} vs {want}");
        }
        let back = Histogram::from_json(&h.to_json());
        assert_eq!(back.count(), 10_000);
        assert_eq!(back.quantile(0.5), h.quantile(0.5));
    }
}
