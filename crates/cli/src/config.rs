//! Where the command finds Tollgate and its token: flags, then the environment, then the
//! config file (`~/.config/tollgate/config.toml`, or `--config` / `TOLLGATE_CONFIG`).
//!
//! ```toml
//! url = "https://tollgate.example.com"
//! # A command printing a token (or a JSON object with a `value`), run for every use, e.g.
//! # the GitHub Actions OIDC request; or a fixed `token = "..."`.
//! token_command = "curl -sH \"Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN\" \"$ACTIONS_ID_TOKEN_REQUEST_URL&audience=tollgate\""
//! output = "table"
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_URL: &str = "http://127.0.0.1:3000";

/// One layer of settings (flags, environment or file).
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    pub url: Option<String>,
    pub token: Option<String>,
    pub token_command: Option<String>,
    pub output: Option<String>,
}

impl Layer {
    /// `TOLLGATE_URL`, `TOLLGATE_TOKEN`, `TOLLGATE_TOKEN_COMMAND`, `TOLLGATE_OUTPUT`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Layer {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        Layer {
            url: get("TOLLGATE_URL"),
            token: get("TOLLGATE_TOKEN"),
            token_command: get("TOLLGATE_TOKEN_COMMAND"),
            output: get("TOLLGATE_OUTPUT"),
        }
    }

    pub fn from_file(path: &Path) -> Result<Layer, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("config file {}: {e}", path.display()))?;
        let layer: Layer =
            toml::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))?;
        if layer.token.is_some() {
            warn_if_readable_by_others(path);
        }
        Ok(layer)
    }
}

/// How to get the bearer token.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenSource {
    None,
    Fixed(String),
    /// A shell command whose output is the token; run for every use, as tokens from such
    /// commands (CI OIDC tokens) are short-lived.
    Command(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub url: String,
    pub token: TokenSource,
    pub output: Option<String>,
}

/// Merges the layers, most important first. A token and a token command from one layer:
/// the token wins; a layer naming either hides both from less important layers.
pub fn resolve(layers: &[Layer]) -> Settings {
    let url = layers
        .iter()
        .find_map(|l| l.url.clone())
        .unwrap_or_else(|| DEFAULT_URL.to_string());
    let token = layers
        .iter()
        .find_map(|l| match (&l.token, &l.token_command) {
            (Some(t), _) => Some(TokenSource::Fixed(t.clone())),
            (None, Some(c)) => Some(TokenSource::Command(c.clone())),
            (None, None) => None,
        })
        .unwrap_or(TokenSource::None);
    let output = layers.iter().find_map(|l| l.output.clone());
    Settings { url, token, output }
}

/// The config file to read: the one named, else the default one if it exists.
pub fn file_path(named: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = named {
        return Some(p.to_path_buf());
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    let p = base.join("tollgate").join("config.toml");
    p.exists().then_some(p)
}

impl TokenSource {
    /// The token now: the fixed one, or the command's output (trimmed; `value` of a JSON
    /// answer, as the GitHub Actions token endpoint returns).
    pub fn get(&self) -> Result<Option<String>, String> {
        match self {
            TokenSource::None => Ok(None),
            TokenSource::Fixed(t) => Ok(Some(t.clone())),
            TokenSource::Command(cmd) => {
                let out = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::inherit())
                    .output()
                    .map_err(|e| format!("token command: cannot run: {e}"))?;
                if !out.status.success() {
                    return Err(format!("token command: exited with {}", out.status));
                }
                let text = String::from_utf8(out.stdout)
                    .map_err(|_| "token command: output is not UTF-8".to_string())?;
                token_from_output(&text).map(Some)
            }
        }
    }
}

fn token_from_output(text: &str) -> Result<String, String> {
    let text = text.trim();
    let token = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(m)) => m
            .get("value")
            .and_then(|v| v.as_str())
            .ok_or("token command: printed JSON without a string `value`")?
            .to_string(),
        _ => text.to_string(),
    };
    // Never echo what the command printed: it may be a secret.
    if token.is_empty() || token.chars().any(char::is_whitespace) {
        return Err("token command: did not print a single token".into());
    }
    Ok(token)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path)
        && m.permissions().mode() & 0o077 != 0
    {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "tollgate: warning: {} holds a token and is readable by others (chmod 600 it)",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(url: Option<&str>, token: Option<&str>, cmd: Option<&str>) -> Layer {
        Layer {
            url: url.map(Into::into),
            token: token.map(Into::into),
            token_command: cmd.map(Into::into),
            output: None,
        }
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let flags = layer(None, None, Some("flag-cmd"));
        let env = layer(Some("https://env"), Some("env-token"), None);
        let file = layer(Some("https://file"), Some("file-token"), None);
        let s = resolve(&[flags, env.clone(), file.clone()]);
        assert_eq!(s.url, "https://env");
        assert_eq!(s.token, TokenSource::Command("flag-cmd".into()));
        let s = resolve(&[Layer::default(), env, file.clone()]);
        assert_eq!(s.token, TokenSource::Fixed("env-token".into()));
        let s = resolve(&[Layer::default(), Layer::default(), file]);
        assert_eq!(s.url, "https://file");
        assert_eq!(s.token, TokenSource::Fixed("file-token".into()));
        let s = resolve(&[]);
        assert_eq!(s.url, DEFAULT_URL);
        assert_eq!(s.token, TokenSource::None);
    }

    #[test]
    fn env_layer_ignores_empty_values() {
        let l = Layer::from_env(|k| match k {
            "TOLLGATE_URL" => Some(String::new()),
            "TOLLGATE_TOKEN_COMMAND" => Some("echo t".into()),
            _ => None,
        });
        assert_eq!(l, layer(None, None, Some("echo t")));
    }

    #[test]
    fn config_file_parses_and_refuses_unknown_keys() {
        let dir = std::env::temp_dir().join(format!("tollgate-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("config.toml");
        std::fs::write(&p, "url = \"https://t\"\ntoken_command = \"echo x\"\n").unwrap();
        assert_eq!(
            Layer::from_file(&p).unwrap(),
            layer(Some("https://t"), None, Some("echo x"))
        );
        std::fs::write(&p, "urll = \"https://t\"\n").unwrap();
        assert!(Layer::from_file(&p).unwrap_err().contains("urll"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn token_commands_print_a_token_or_a_json_value() {
        assert_eq!(token_from_output("abc.def.ghi\n").unwrap(), "abc.def.ghi");
        assert_eq!(
            token_from_output(r#"{"count":1,"value":"jwt"}"#).unwrap(),
            "jwt"
        );
        assert!(token_from_output("").is_err());
        assert!(token_from_output("two words").is_err());
        assert!(token_from_output(r#"{"value":1}"#).is_err());
        assert_eq!(
            TokenSource::Command("printf 'tok\\n'".into())
                .get()
                .unwrap(),
            Some("tok".into())
        );
        assert!(TokenSource::Command("exit 3".into()).get().is_err());
    }
}
