//! `kerbside`: the one binary. See [`kerbside::cli`].

fn main() -> std::process::ExitCode {
    kerbside::cli::main()
}
