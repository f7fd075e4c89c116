//! Any bytes from a metadata service, in any segmentation: the parser
//! answers with a response or an error, within its limits, never a panic,
//! and the answer does not depend on how the bytes were split.
#![no_main]

use cloudinit::http::{HttpError, Parser, Response, MAX_BODY};
use libfuzzer_sys::fuzz_target;

fn run<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> Result<Response, HttpError> {
    let mut p = Parser::new();
    for piece in pieces {
        if let Some(r) = p.push(piece)? {
            return Ok(r);
        }
    }
    p.finish()
}

fuzz_target!(|data: &[u8]| {
    let (ctl, body) = data.split_at(data.len().min(1));
    let step = 1 + ctl.first().copied().unwrap_or(0) as usize % 64;
    let split = run(body.chunks(step));
    let whole = run(core::iter::once(body));
    if let Ok(r) = &split {
        assert!(r.body.len() <= MAX_BODY);
        assert!((200..600).contains(&r.status), "1xx are skipped");
    }
    assert_eq!(split, whole, "segmentation changed the result");
});
