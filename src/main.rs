//! The `alipay-sim` command line; its subcommands are in `cli/`, one file each.

use std::process::ExitCode;

mod cli;

// The server allocates small objects on every request; mimalloc serves those faster than glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::main()
}
