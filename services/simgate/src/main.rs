//! The `simgate` binary: parses the command line, loads configuration and wires the crates
//! together. No business logic lives here.
//!
//! Subcommands: `serve`, `migrate`, `api-key create|list|revoke|ensure`,
//! `signing-key rotate|list|purge`, `keys generate-data-key`, `audit verify`, `healthcheck`,
//! `calibrate-faces`, `reverify` (and `reverify merge`), `purge`.

mod calibrate;
mod cli;
mod reverify;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("simgate: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("simgate: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
