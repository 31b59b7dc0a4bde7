//! `docs/MANIFEST.md` (the repo's copy of the manifest contract) stays readable by the reader:
//! its example parses, with the rows, classes and paths it describes.
use palmsig_eval::Manifest;
use std::path::Path;

#[test]
fn the_documented_example_parses() {
    let doc = include_str!("../../../docs/MANIFEST.md");
    let example = doc
        .split("```csv\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("docs/MANIFEST.md has a ```csv example");
    let m = Manifest::parse(example.as_bytes(), Path::new("/data")).unwrap();
    assert_eq!(m.captures.len(), 2);
    assert_eq!(m.classes.len(), 1, "both rows are s001's left hand");
    assert_eq!(
        m.captures[0].visible.as_deref(),
        Some(Path::new("/data/img/s001_l_1_v.png"))
    );
    assert_eq!(m.captures[1].visible, None, "an empty column is no image");
}
