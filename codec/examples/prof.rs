fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let file = std::env::args().nth(2).unwrap_or("profile_medium".into());
    let json = std::fs::read_to_string(format!("/work/shared/corpus/{file}.json")).unwrap();
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    let v = sdm_codec::Value::from(j.clone());
    let o = sdm_codec::Options::default();
    let text = sdm_codec::compress(&v, &o).unwrap();
    let t = std::time::Instant::now();
    let mut n = 0;
    while t.elapsed().as_secs_f64() < 3.0 {
        match mode.as_str() {
            "dec" => drop(std::hint::black_box(
                sdm_codec::decompress(&text, 3).unwrap(),
            )),
            "jdec" => drop(std::hint::black_box(
                serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            )),
            "enc" => drop(std::hint::black_box(sdm_codec::compress(&v, &o).unwrap())),
            _ => drop(std::hint::black_box(serde_json::to_string(&j).unwrap())),
        }
        n += 1;
    }
    println!(
        "{mode}: {:.1} us",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
