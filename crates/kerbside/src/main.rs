//! `kerbside`: the one binary. See [`kerbside::cli`].

/// jemalloc rather than the system allocator. The services run for weeks with a heap
/// that churns (every quarter hour a window per device is emitted and dropped;
/// rdkafka's fetch buffers come and go on their own threads). glibc's malloc gives
/// such threads arenas of their own and keeps what they free: on the
/// 100,000-device aggregator it held 377 MB for 255 MB in use, 60 MB of it in an
/// arena with 71 KB in use. jemalloc's background threads hand freed pages back
/// (after 1 s: `.cargo/config.toml`). It replaces `malloc` for the whole process
/// (`unprefixed_malloc_on_supported_platforms`), so librdkafka's buffers live in it
/// too, and `kerbside_heap_*_bytes` count them.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    kerbside::cli::main()
}
