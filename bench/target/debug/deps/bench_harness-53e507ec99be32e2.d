/work/main/bench/target/debug/deps/bench_harness-53e507ec99be32e2.d: harness/src/lib.rs

/work/main/bench/target/debug/deps/libbench_harness-53e507ec99be32e2.rlib: harness/src/lib.rs

/work/main/bench/target/debug/deps/libbench_harness-53e507ec99be32e2.rmeta: harness/src/lib.rs

harness/src/lib.rs:
