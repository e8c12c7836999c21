/work/main/bench/target/debug/deps/bench_harness-cb2853e5ec87c7dd.d: harness/src/lib.rs

/work/main/bench/target/debug/deps/bench_harness-cb2853e5ec87c7dd: harness/src/lib.rs

harness/src/lib.rs:
