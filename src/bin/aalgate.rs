//! The `aalgate` command; all logic lives in [`aalgate::cli`].
fn main() -> std::process::ExitCode {
    aalgate::cli::main()
}
