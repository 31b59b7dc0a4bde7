//! `Template::from_bytes` must never panic; whatever it accepts must re-encode to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use palmsig_codes::Template;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Template::from_bytes(data) {
        let again = t.to_bytes().expect("a decoded template encodes");
        assert_eq!(again, data, "decode/encode is not canonical");
    }
});
