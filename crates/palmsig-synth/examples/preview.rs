//! Render a few captures to PNG files for a look: `cargo run --release -p palmsig-synth --example preview -- OUT_DIR [difficulty]`.
use palmsig_core::Hand;
use palmsig_synth::{encode_png, render_capture, stats, CaptureSpec, Difficulty, Identity};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(
        args.get(1)
            .map(String::as_str)
            .unwrap_or("/tmp/synth-preview"),
    );
    let diff: Difficulty = args
        .get(2)
        .map(String::as_str)
        .unwrap_or("realistic")
        .parse()?;
    std::fs::create_dir_all(&out)?;
    for (s, hand) in [(1, Hand::Right), (1, Hand::Left), (2, Hand::Right)] {
        let id = Identity::new(7, s, hand)?;
        for k in 0..2 {
            let spec = CaptureSpec::sample(&id, diff, 1 + k, k);
            let r = render_capture(&id, &spec, 768, 576)?;
            let name = format!("s{s}_{}_{k}", hand.as_str());
            std::fs::write(out.join(format!("{name}_v.png")), encode_png(&r.visible)?)?;
            std::fs::write(out.join(format!("{name}_n.png")), encode_png(&r.nir)?)?;
            println!("{name}: {}", serde_json::to_string(&stats::measure(&r))?);
        }
    }
    Ok(())
}
