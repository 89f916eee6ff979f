//! counter: proves that no state survives between calls.
//!
//! `GET /` counts the calls its instance has handled in a global and answers
//! `calls handled by this instance: N`; on Wisp N is always 1, however the
//! sandbox was made (inline or instantiated ahead of the call).
//!
//! `GET /scatter` checks that linear memory starts pristine when a previous
//! call in the same pool slot dirtied many scattered pages: it reads every
//! page of two 200-page arrays (one initialised in the memory image, one
//! zero-initialised after it), counts the pages that do not hold their
//! initial value, then writes every other page of both (200 disjoint dirty
//! runs, more than the 32 regions one `PAGEMAP_SCAN` reports). Answers
//! `stale pages: N of 400`; on Wisp N is always 0.

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};

use wstd::http::{Body, Error, Request, Response};

static CALLS: AtomicU32 = AtomicU32::new(0);

const PAGE: usize = 4096;
const PAGES: usize = 200;
/// The image's value of every byte of [`IMAGE_PAGES`].
const IMAGE_BYTE: u8 = 0x5a;

/// Part of the memory image (a data segment of non-zero bytes).
static IMAGE_PAGES: [AtomicU8; PAGES * PAGE] = [const { AtomicU8::new(IMAGE_BYTE) }; PAGES * PAGE];
/// Zero-initialised: no data segment, memory past the image.
static ZERO_PAGES: [AtomicU8; PAGES * PAGE] = [const { AtomicU8::new(0) }; PAGES * PAGE];

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, Error> {
    let n = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    let body = if request.uri().path() == "/scatter" {
        let stale = stale_pages(&IMAGE_PAGES, IMAGE_BYTE) + stale_pages(&ZERO_PAGES, 0);
        dirty_every_other_page(&IMAGE_PAGES);
        dirty_every_other_page(&ZERO_PAGES);
        format!("stale pages: {stale} of {}\n", 2 * PAGES)
    } else {
        format!("calls handled by this instance: {n}\n")
    };
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Body::from(body))?)
}

/// Pages of `pages` holding any byte other than `initial`.
fn stale_pages(pages: &[AtomicU8], initial: u8) -> usize {
    pages
        .chunks(PAGE)
        .filter(|page| page.iter().any(|b| b.load(Ordering::Relaxed) != initial))
        .count()
}

fn dirty_every_other_page(pages: &[AtomicU8]) {
    for page in pages.chunks(PAGE).step_by(2) {
        for b in page.iter().step_by(512) {
            b.store(0xff, Ordering::Relaxed);
        }
    }
}
