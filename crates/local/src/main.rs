use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tollgate_local::{Stack, StackOptions};

/// Tollgate's local stack: moto, the real state machine, the API and a dev identity provider.
#[derive(Parser)]
#[command(name = "tollgate-local", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address the API listens on.
    #[arg(
        long,
        env = "TOLLGATE_LOCAL_LISTEN",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    listen: SocketAddr,
    /// Port for moto (0 picks a free one).
    #[arg(
        long,
        env = "TOLLGATE_LOCAL_MOTO_PORT",
        default_value_t = 0,
        global = true
    )]
    moto_port: u16,
    /// Path to moto_server (default: .venv/bin/moto_server).
    #[arg(long, env = "TOLLGATE_MOTO_BIN", global = true)]
    moto_bin: Option<PathBuf>,
    /// Seconds an approval may wait before the request expires.
    #[arg(
        long,
        env = "TOLLGATE_APPROVAL_TIMEOUT_SECONDS",
        default_value_t = 3600,
        global = true
    )]
    approval_timeout: u64,
    /// Show moto's own log.
    #[arg(long, global = true)]
    verbose_moto: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run the stack until Ctrl-C (the default).
    Serve,
    /// Start a fresh stack on free ports, run the scripted walkthrough, stop.
    Demo,
}

#[tokio::main]
async fn main() {
    tollgate_aws::logging::init();
    let mut cli = Cli::parse();
    let code = match cli.command.take().unwrap_or(Command::Serve) {
        Command::Serve => serve(opts(&cli, true)).await,
        Command::Demo => {
            let mut o = opts(&cli, false);
            o.listen.set_port(0);
            o.moto_port = 0;
            demo(o).await
        }
    };
    std::process::exit(code);
}

fn opts(cli: &Cli, print_notices: bool) -> StackOptions {
    StackOptions {
        listen: cli.listen,
        moto_port: cli.moto_port,
        moto_bin: cli.moto_bin.clone(),
        approval_timeout_seconds: cli.approval_timeout,
        print_notices,
        verbose_moto: cli.verbose_moto,
        ..Default::default()
    }
}

async fn serve(opts: StackOptions) -> i32 {
    let stack = match Stack::start(opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tollgate-local: {e}");
            return 1;
        }
    };
    println!(
        "Tollgate is running.\n\
         \n  API:              {api}\n  Emulator (moto):  {moto}\n  Identity issuer:  {api}/dev-idp\n\
         \nMint tokens:\n  export TOLLGATE_URL={api}\n  export TOLLGATE_TOKEN=$(tollgate token --sub ci-bot)            # an agent\n  export APPROVER_TOKEN=$(tollgate token --sub alice --approver)  # an approver\n\
         \nTry:\n  tollgate request dynamodb:ListTables\n  tollgate request dynamodb:DeleteTable --param TableName=orders --reason \"cleanup\" --wait\n\
         \nApproval links are printed below as their notices arrive. Ctrl-C stops everything.\n",
        api = stack.api_url,
        moto = stack.moto_url,
    );
    wait_for_signal().await;
    println!("stopping...");
    stack.stop().await;
    0
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn demo(opts: StackOptions) -> i32 {
    println!("Starting a fresh local stack...");
    let stack = match Stack::start(opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tollgate-local: {e}");
            return 1;
        }
    };
    println!("API at {}\n", stack.api_url);
    let result = tollgate_local::demo::run(&stack.api_url, &stack.sdk, &mut |s: &str| {
        println!("ok  {s}")
    })
    .await;
    stack.stop().await;
    match result {
        Ok(()) => {
            println!("\ndemo: every step matched");
            0
        }
        Err(e) => {
            println!("\nFAILED: {e}");
            1
        }
    }
}
