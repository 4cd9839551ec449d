//! The AWS emulator: moto's server as a child process on loopback, with Step Functions
//! execution switched on and its Lambda calls pointed back at the local host.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

pub struct Moto {
    child: Child,
    pub url: String,
}

/// Finds `moto_server`: an explicit path, then `.venv/bin/moto_server` in this directory or
/// any parent (the Makefile installs it there), then the source tree's `.venv`.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(format!("moto_server not found at {}", p.display()))
        };
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        candidates.extend(cwd.ancestors().map(|d| d.join(".venv/bin/moto_server")));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server"));
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        "moto_server not found: run `make venv` (or `make local`) first, or pass --moto-bin"
            .to_string()
    })
}

impl Moto {
    /// Starts moto on `port` and waits until it answers. `lambda_port` is where moto's Step
    /// Functions interpreter sends its `lambda:invoke` calls (`MOTO_PORT`).
    pub async fn start(
        bin: &Path,
        port: u16,
        lambda_port: u16,
        verbose: bool,
    ) -> Result<Self, String> {
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_PORT", lambda_port.to_string())
            // Moto's own SDK calls (state machine tasks) need a region and credentials.
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if !verbose {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        moto.wait_ready(Duration::from_secs(60)).await?;
        moto.configure().await?;
        Ok(moto)
    }

    async fn wait_ready(&self, limit: Duration) -> Result<(), String> {
        let http = reqwest::Client::new();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(r) = http
                .get(format!("{}/moto-api/data.json", self.url))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "moto did not answer on {} within {limit:?}",
            self.url
        ))
    }

    async fn configure(&self) -> Result<(), String> {
        let r = reqwest::Client::new()
            .post(format!("{}/moto-api/config", self.url))
            .json(&serde_json::json!({"stepfunctions": {"execute_state_machine": true}}))
            .send()
            .await
            .map_err(|e| format!("cannot configure moto: {e}"))?;
        if !r.status().is_success() {
            return Err(format!(
                "moto refused its configuration: HTTP {}",
                r.status()
            ));
        }
        Ok(())
    }

    /// Stops the emulator and waits for it to exit.
    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Restarts nothing: reports whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}
