//! load + unload of one packet-sized (1514-byte) buffer, the per-packet
//! busdma cost a driver pays (grant table: a flat array, no hypercalls).

use busdma::{Direction, Map, Tag};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use xensim::ArrayGrantTable;

fn bench(c: &mut Criterion) {
    let mut g = ArrayGrantTable::new(64);
    let frames = [0x3000u64, 0x3001];
    let mut map = Map::create(Tag::pages(0, Direction::ToDevice, 2), &mut g).unwrap();
    c.bench_function("load_unload_1514_bytes_one_page", |b| {
        b.iter(|| {
            map.load(&mut g, black_box(&frames), 0, 1514).unwrap();
            map.unload(&mut g).unwrap();
        })
    });
    c.bench_function("load_unload_1514_bytes_two_pages", |b| {
        b.iter(|| {
            map.load(&mut g, black_box(&frames), 3000, 1514).unwrap();
            map.unload(&mut g).unwrap();
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
