//! `tollgate`: ask Tollgate for AWS calls, follow them, decide on them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::{Map, Value, json};
use tollgate_cli::client::{Answer, Client, ClientError, Status, Verdict};
use tollgate_cli::config::{self, Layer, Settings};

use crate::output::Output;

/// A line on standard output that a closed pipe cannot turn into a panic.
macro_rules! outln {
    ($($t:tt)*) => { $crate::output::line(format_args!($($t)*)) };
}

/// Standard error, likewise (a closed one is ignored).
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

macro_rules! err {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($t)*);
    }};
}

mod audit_cmd;
mod aws_env;
mod mcp;
mod output;
mod policy_cmd;
mod policy_replay;
mod policy_test;
mod reconcile_cmd;
mod s3_cp;
mod watch;

/// Exit codes, so scripts can branch on the outcome without parsing output.
pub(crate) mod exit {
    pub const SUCCEEDED: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const FAILED: u8 = 3;
    pub const DENIED: u8 = 4;
    pub const REJECTED: u8 = 5;
    pub const EXPIRED: u8 = 6;
    pub const PENDING: u8 = 7;
    pub const CANCELLED: u8 = 8;
    pub const AUTH: u8 = 9;
    // 10: `audit verify` found a broken trail, or `policy replay` decisions that would
    // change; 11: `audit reconcile` found calls unaccounted for.
}

const EXIT_CODES: &str =
    "Exit codes: 0 succeeded (or done), 1 error (network, invalid request, ...), \
2 usage, 3 failed, 4 denied, 5 rejected, 6 expired, 7 still pending, 8 cancelled, \
9 not authenticated or not allowed, 10 broken audit trail (`audit verify`) or decisions \
that would change (`policy replay`), 11 calls unaccounted for (`audit reconcile`).

Configuration: flags, then TOLLGATE_URL / TOLLGATE_TOKEN / TOLLGATE_TOKEN_COMMAND / \
TOLLGATE_OUTPUT, then the config file (~/.config/tollgate/config.toml: url, token, \
token_command, output).";

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Ask Tollgate to perform AWS calls, follow them, and decide on them.",
    after_help = EXIT_CODES
)]
struct Cli {
    /// Tollgate's URL [env: TOLLGATE_URL] (default http://127.0.0.1:3000).
    #[arg(long, global = true)]
    url: Option<String>,
    /// Bearer token, an agent's or an approver's OIDC token [env: TOLLGATE_TOKEN].
    #[arg(long, global = true)]
    token: Option<String>,
    /// A shell command printing the token, run for each use, e.g. the GitHub Actions OIDC
    /// request [env: TOLLGATE_TOKEN_COMMAND].
    #[arg(long, global = true)]
    token_command: Option<String>,
    /// Config file [env: TOLLGATE_CONFIG] (default ~/.config/tollgate/config.toml).
    #[arg(long, env = "TOLLGATE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// json or table [env: TOLLGATE_OUTPUT]. Default: json, except that `request` prints
    /// just its answer (the AWS result, or how to follow a held request).
    #[arg(long, short = 'o', global = true)]
    output: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// A way the command ends other than normally: the exit code and what to say.
#[derive(Debug)]
struct Fail {
    code: u8,
    message: String,
}

impl From<ClientError> for Fail {
    fn from(e: ClientError) -> Self {
        e.to_string().into()
    }
}

impl From<String> for Fail {
    fn from(message: String) -> Self {
        Fail {
            code: exit::ERROR,
            message,
        }
    }
}

fn usage(message: String) -> Fail {
    Fail {
        code: exit::USAGE,
        message,
    }
}

#[derive(Subcommand)]
enum S3Command {
    /// Upload FILE to S3 (up to 5 GiB) without the bytes passing through Tollgate: its length
    /// and SHA-256 are declared and decided like the `s3:PutObject` it is (held for approval
    /// when policy says so); once it may run, the file goes to S3 on a presigned URL that S3
    /// honours for exactly those bytes, for five minutes. Prints the request id, the ETag and
    /// the version id.
    #[command(after_help = "Examples:
  tollgate s3 cp build.tar.gz s3://artifacts/releases/ --reason \"release 4.2\" --wait
  tollgate s3 cp dump.sql s3://backups/2026/12/dump.sql --reason \"nightly\"")]
    Cp {
        /// The local file.
        file: String,
        /// `s3://bucket/key`; a key ending in `/` takes the file's name.
        destination: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        target: Option<String>,
        #[command(flatten)]
        follow: Follow,
    },
}

#[derive(Subcommand)]
enum GrantsCommand {
    /// Revoke a grant (its agent, or an approver who may see it): the next call needs an
    /// approval again.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum Command {
    /// Mint a token from the local stack's dev identity provider and print it.
    #[command(after_help = "Examples:
  tollgate token --sub ci-bot                    # an agent token
  tollgate token --sub alice --approver          # an approver token
  tollgate token --sub octo/app --shape github --ref refs/heads/main")]
    Token {
        /// The principal; with --shape github the repository (`owner/repo`), with
        /// --shape kubernetes `namespace/serviceaccount`.
        #[arg(long)]
        sub: String,
        /// An approver token instead of an agent token.
        #[arg(long)]
        approver: bool,
        /// Claims shaped like a real provider's: plain, github, cognito, kubernetes.
        #[arg(long, default_value = "plain")]
        shape: String,
        /// ES256 or RS256.
        #[arg(long, default_value = "ES256")]
        alg: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// Groups (repeatable); approvers default to `approvers`.
        #[arg(long = "group")]
        groups: Vec<String>,
        /// With --shape github: the git ref.
        #[arg(long = "ref")]
        git_ref: Option<String>,
    },
    /// Ask for one AWS call. Prints the AWS result when it ran, or the held request's id, its
    /// approval page and how to follow it (exit 7); `--output json` prints the whole record.
    #[command(after_help = "Examples:
  tollgate request dynamodb:ListTables
  tollgate request dynamodb:DeleteTable -p TableName=orders --reason \"drop the old table\" --wait
  tollgate request s3:PutObject --params-json put.json --reason \"publish\" -o json")]
    Request {
        /// `service:Operation`.
        action: String,
        /// A parameter as KEY=VALUE; VALUE is read as JSON when it parses, else as a string.
        #[arg(long = "param", short = 'p', value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// All parameters as a JSON object, from a file or `-` for standard input; `--param`
        /// entries are applied on top.
        #[arg(long, value_name = "FILE|-")]
        params_json: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        target: Option<String>,
        #[command(flatten)]
        follow: Follow,
    },
    /// Ask for several AWS calls as one plan: approved once, run in order, stopping at the
    /// first step that fails. FILE (or `-` for standard input) is JSON or YAML: a list of
    /// steps, each as `request` takes a call (`action`, `params`, `region`, `target`), or
    /// `{reason, steps}`. A step may use a string from an earlier step's answer:
    /// `{"$ref": "steps[0].answer.TableDescription.TableArn"}`.
    #[command(after_help = "Examples:
  tollgate plan migrate.yaml --reason \"move orders to the new table\" --wait
  tollgate plan migrate.yaml --by-calls --window 600   # then run each step with `aws ...`
  tollgate plan - -o json <<<'[{\"action\": \"dynamodb:ListTables\"}]'")]
    Plan {
        /// The plan file, JSON or YAML; `-` for standard input.
        file: String,
        /// Why, for the approvers; replaces a `reason` in the file.
        #[arg(long)]
        reason: Option<String>,
        /// Once approved, run each step only when you make its call yourself through the
        /// front door (`tollgate env`), in order, instead of all at once.
        #[arg(long)]
        by_calls: bool,
        /// With --by-calls: how many seconds after the approval the calls may come
        /// (5 to 86400; default 3600).
        #[arg(long, requires = "by_calls")]
        window: Option<u64>,
        #[command(flatten)]
        follow: Follow,
    },
    /// S3 transfers too large to pass through Tollgate.
    #[command(subcommand)]
    S3(S3Command),
    /// Show a request.
    #[command(after_help = "Examples:
  tollgate status 01JABCDEFGHJKMNPQRSTVWXYZ0
  tollgate status 01JABCDEFGHJKMNPQRSTVWXYZ0 --wait 600   # follow it until it is decided")]
    Status {
        id: String,
        /// Follow the request up to this many seconds, until it is final, showing its progress
        /// on standard error as `request --wait` does.
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
    /// Your requests (agent token), newest first; with an approver token, requests by status.
    #[command(after_help = "Examples:
  tollgate list --status pending
  tollgate list --limit 10 -o table")]
    List {
        /// pending, approved, executing, succeeded, failed, denied, rejected, expired, cancelled.
        #[arg(long)]
        status: Option<String>,
        /// At most this many per page (1-100).
        #[arg(long)]
        limit: Option<u32>,
        /// Continue from a previous page's `next_cursor`.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Requests waiting for your vote (approver token).
    #[command(after_help = "Examples:
  tollgate pending -o table")]
    Pending {
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Withdraw your pending request (agent token).
    #[command(after_help = "Examples:
  tollgate cancel 01JABCDEFGHJKMNPQRSTVWXYZ0")]
    Cancel { id: String },
    /// Serve the Model Context Protocol on stdin/stdout, for AI agents.
    #[command(after_help = "Examples:
  TOLLGATE_URL=https://tollgate.example.com TOLLGATE_TOKEN_COMMAND='...' tollgate mcp
  tollgate mcp --wait-seconds 20")]
    Mcp {
        /// How long `aws_call` waits for a final answer (approval included) before it returns
        /// the pending request; a tool call may lower it.
        #[arg(long, default_value_t = 60)]
        wait_seconds: u64,
    },
    /// Approve a pending request (approver token); with --grant-uses and --grant-minutes,
    /// also allow the same call from the same agent to run again that often within that
    /// time, without a new approval (if the request's policy allows a grant).
    #[command(after_help = "Examples:
  tollgate approve 01JABCDEFGHJKMNPQRSTVWXYZ0 --comment \"looks right\"
  tollgate approve 01JABCDEFGHJKMNPQRSTVWXYZ0 --grant-uses 3 --grant-minutes 30")]
    Approve {
        id: String,
        #[arg(long)]
        comment: Option<String>,
        /// Allow the same call again up to this many times (with --grant-minutes).
        #[arg(long, requires = "grant_minutes")]
        grant_uses: Option<u64>,
        /// ... within this many minutes (with --grant-uses).
        #[arg(long, requires = "grant_uses")]
        grant_minutes: Option<u64>,
    },
    /// Grants: your own (agent token), or those you may see (approver token); `grants
    /// revoke <id>` ends one at once.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:
  tollgate grants
  tollgate grants --json
  tollgate grants revoke G01JABCDEFGHJKMNPQRSTVWXYZ0"
    )]
    Grants {
        #[command(subcommand)]
        revoke: Option<GrantsCommand>,
        /// Print the API's answer as JSON instead of one line per grant.
        #[arg(long)]
        json: bool,
    },
    /// Reject a pending request (approver token).
    #[command(after_help = "Examples:
  tollgate reject 01JABCDEFGHJKMNPQRSTVWXYZ0 --comment \"use the staging table\"")]
    Reject {
        id: String,
        /// Why; the agent and the audit trail see it.
        #[arg(long)]
        comment: String,
    },
    /// Check and try policies offline.
    #[command(
        subcommand,
        after_help = "Examples:
  tollgate policy validate policies/
  tollgate policy check --request req.json --claims claims.json
  tollgate policy test policies/"
    )]
    Policy(PolicyCommand),
    /// A request's audit trail; `audit verify` checks trails straight from the table,
    /// `audit reconcile` the target roles' CloudTrail events against the requests.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:
  tollgate audit 01JABCDEFGHJKMNPQRSTVWXYZ0
  tollgate audit verify --since 2026-01-01
  tollgate audit breakglass --since 7d
  tollgate audit reconcile --since 24h --trail-bucket my-trail --role-arn arn:aws:iam::111122223333:role/tollgate-target"
    )]
    Audit {
        #[command(subcommand)]
        verify: Option<AuditCommand>,
        /// The request whose trail to print.
        id: Option<String>,
    },
    /// Gateway credentials for AWS tools, in the `credential_process` format (agent token).
    /// Put `credential_process = tollgate credentials` in an AWS profile (with `endpoint_url`
    /// set to Tollgate's URL) and the AWS CLI and SDKs refresh them on their own.
    #[command(after_help = "Examples:
  tollgate credentials
  # ~/.aws/config:  [profile tollgate]
  #                 credential_process = tollgate credentials
  #                 endpoint_url = https://tollgate.example.com
  tollgate credentials --wait 20")]
    Credentials {
        /// Seconds a held call waits for its decision before answering "approval required"
        /// (0 to 20), so that a quick approval answers in place.
        #[arg(long, default_value_t = 0, value_name = "SECONDS")]
        wait: u64,
        /// The target every call signed with these credentials acts in (default: `default`).
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
    },
    /// `export` lines that point the AWS CLI and SDKs at Tollgate's front door with fresh
    /// gateway credentials (agent token).
    #[command(after_help = "Examples:
  eval \"$(tollgate env)\"
  aws sts get-caller-identity
  eval \"$(tollgate env --wait 20)\"
  eval \"$(tollgate env --target default)\"")]
    Env {
        /// Seconds a held call waits for its decision before answering "approval required"
        /// (0 to 20), so that a quick approval answers in place.
        #[arg(long, default_value_t = 0, value_name = "SECONDS")]
        wait: u64,
        /// The target every call signed with these credentials acts in (default: `default`).
        #[arg(long, value_name = "NAME")]
        target: Option<String>,
    },
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  tollgate completions bash > ~/.local/share/bash-completion/completions/tollgate
  tollgate completions zsh > ~/.zfunc/_tollgate
  tollgate completions fish > ~/.config/fish/completions/tollgate.fish")]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// Where an operator's command reads the table, with the operator's own credentials.
#[derive(clap::Args)]
struct TableArgs {
    #[arg(long, env = "TOLLGATE_TABLE", default_value = "tollgate-requests")]
    table: String,
    /// Endpoint of an emulator for the command's AWS calls (DynamoDB; S3 too for reconcile).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute hash chains from the DynamoDB table (operator credentials). Exit 0 when
    /// every trail is whole, 10 when any is broken.
    #[command(after_help = "Examples:
  tollgate audit verify 01JABCDEFGHJKMNPQRSTVWXYZ0
  tollgate audit verify --since 2026-01-01 --table tollgate-requests")]
    Verify {
        /// Request ids to check.
        ids: Vec<String>,
        /// Also every request created since this date (YYYY-MM-DD, ...THH:MM:SSZ, or unix s).
        #[arg(long)]
        since: Option<String>,
        #[command(flatten)]
        store: TableArgs,
    },
    /// List break-glass approvals from the table (operator credentials): request, agent,
    /// action, who, their justification, and who acknowledged it when, or that it is overdue.
    #[command(after_help = "Examples:
  tollgate audit breakglass --since 7d
  tollgate audit breakglass --since 2026-11-01 --json --table tollgate-requests")]
    Breakglass {
        /// Start of the window: a span back from now (24h, 7d) or a date.
        #[arg(long, default_value = "7d")]
        since: String,
        /// Print the uses as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: TableArgs,
    },
    /// Match the target roles' CloudTrail events (the trail's S3 log files) to requests
    /// (operator credentials): report calls no request explains and executed requests with
    /// no event. Exit 0 when everything is accounted for, 11 on a finding.
    #[command(after_help = "Examples:
  tollgate audit reconcile --since 24h --trail-bucket org-trail \\
    --role-arn arn:aws:iam::111122223333:role/tollgate-target --table tollgate-requests
  tollgate audit reconcile --since 2026-11-24 --settle 20m --json ...")]
    Reconcile {
        /// Start of the window: a span back from now (24h, 90m, 7d) or a date.
        #[arg(long, default_value = "24h")]
        since: String,
        /// Executions more recent than this are not expected in the trail yet (CloudTrail
        /// delivers within about 15 minutes).
        #[arg(long, default_value = "20m")]
        settle: String,
        /// A target role whose every session must be explained (repeat for each).
        #[arg(
            long = "role-arn",
            env = "TOLLGATE_TARGET_ROLE_ARNS",
            value_delimiter = ',',
            required = true
        )]
        role_arns: Vec<String>,
        /// The bucket the trail delivers to.
        #[arg(long, env = "TOLLGATE_TRAIL_BUCKET")]
        trail_bucket: String,
        /// The trail's S3 key prefix, if it has one.
        #[arg(long)]
        trail_prefix: Option<String>,
        /// For an organization trail: the organization id (`o-...`) in its keys.
        #[arg(long)]
        organization_id: Option<String>,
        /// Regions to read (repeat); default every region the trail has files for.
        #[arg(long = "trail-region")]
        trail_regions: Vec<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: TableArgs,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate policy files against the schema and the action catalog.
    #[command(after_help = "Examples:
  tollgate policy validate
  tollgate policy validate my-policies/ extra.cedar")]
    Validate {
        /// `.cedar` files or directories (default: the bundled policies).
        paths: Vec<std::path::PathBuf>,
    },
    /// Show what the policies decide for a request. Exit 0 allowed, 7 needs approval, 4 denied.
    #[command(after_help = "Examples:
  tollgate policy check --request req.json
  tollgate policy check --request req.json --claims claims.json --policies my-policies/")]
    Check {
        /// The request body, as for `POST /v1/requests`.
        #[arg(long)]
        request: std::path::PathBuf,
        /// The agent's token claims as JSON (default: just `sub`).
        #[arg(long)]
        claims: Option<std::path::PathBuf>,
        /// `.cedar` files or directories (default: the bundled policies).
        #[arg(long = "policies")]
        policies: Vec<std::path::PathBuf>,
        /// Account of the target.
        #[arg(long, default_value = "123456789012")]
        account: String,
        /// Region when the request names none.
        #[arg(long, default_value = "us-east-1")]
        region: String,
    },
    /// Check a decision table: the `.cedar` files in a directory must decide every case of
    /// its `decisions.toml` (and `*.decisions.toml`) as written. Exit 0 when all do, 1 when
    /// any differs (each difference printed).
    #[command(after_help = "Examples:
  tollgate policy test infra/policies
  tollgate policy test my-policies/")]
    Test {
        /// The directory with the policies and their decision table.
        dir: std::path::PathBuf,
    },
    /// Decide the requests recorded in a period again with a candidate policy set, read
    /// straight from the table (operator credentials), and print what would change, by
    /// transition and policy. Exit 0 when nothing would, 10 when something would, 1 on error.
    #[command(after_help = "Examples:
  tollgate policy replay --since 7d --policies my-policies/ --table tollgate-requests
  tollgate policy replay --since 2026-11-01 --until 2026-11-08 --policies my-policies/ --json")]
    Replay {
        /// Start of the period: a span back from now (7d, 24h, 90m) or a date.
        #[arg(long)]
        since: String,
        /// End of the period (not included), in the same forms (default: now).
        #[arg(long)]
        until: Option<String>,
        /// The candidate set: a directory of `.cedar` files, loaded as the API loads
        /// `dir:<path>`.
        #[arg(long)]
        policies: std::path::PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Example requests shown per change.
        #[arg(long, default_value_t = 3)]
        examples: usize,
        /// Tollgate's own account, for `resource.tollgate` (as the API's setting).
        #[arg(long, env = "TOLLGATE_ACCOUNT_ID")]
        account_id: Option<String>,
        /// The prefix of Tollgate's own resources (as the API's setting).
        #[arg(long, env = "TOLLGATE_OWN_PREFIX")]
        own_prefix: Option<String>,
        /// More ARNs of Tollgate's own resources (as the API's setting).
        #[arg(long, env = "TOLLGATE_OWN_RESOURCES", value_delimiter = ',')]
        own_resources: Vec<String>,
        #[command(flatten)]
        store: TableArgs,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            errln!("tollgate: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn settings(cli: &Cli) -> Result<Settings, Fail> {
    let flags = Layer {
        url: cli.url.clone(),
        token: cli.token.clone(),
        token_command: cli.token_command.clone(),
        output: cli.output.clone(),
    };
    let env = Layer::from_env(|k| std::env::var(k).ok());
    let file = match config::file_path(cli.config.as_deref()) {
        Some(p) => Layer::from_file(&p).map_err(usage)?,
        None => Layer::default(),
    };
    Ok(config::resolve(&[flags, env, file]))
}

async fn run(cli: Cli) -> Result<u8, Fail> {
    let settings = settings(&cli)?;
    let out = match &settings.output {
        Some(o) => Output::parse(o).map_err(usage)?,
        None => Output::Answer,
    };
    // The token is fetched (its command run) only by verbs that call the API with it.
    let authed = || -> Result<Client, Fail> {
        let token = settings.token.get()?.ok_or_else(|| Fail {
            code: exit::AUTH,
            message: "a token is required: --token, --token-command, TOLLGATE_TOKEN, TOLLGATE_TOKEN_COMMAND or the config file".into(),
        })?;
        Ok(Client::new(&settings.url, Some(token)))
    };
    match cli.command {
        Command::Audit {
            verify: Some(AuditCommand::Verify { ids, since, store }),
            ..
        } => Ok(audit_cmd::verify(audit_cmd::VerifyArgs {
            ids: &ids,
            since: since.as_deref(),
            table: &store.table,
            endpoint_url: store.endpoint_url.as_deref(),
            region: &store.region,
        })
        .await?),
        Command::Audit {
            verify:
                Some(AuditCommand::Reconcile {
                    since,
                    settle,
                    role_arns,
                    trail_bucket,
                    trail_prefix,
                    organization_id,
                    trail_regions,
                    json,
                    store,
                }),
            ..
        } => Ok(reconcile_cmd::reconcile_cmd(reconcile_cmd::ReconcileArgs {
            since: &since,
            settle: &settle,
            role_arns: &role_arns,
            trail_bucket: &trail_bucket,
            trail_prefix: trail_prefix.as_deref(),
            organization_id: organization_id.as_deref(),
            trail_regions: &trail_regions,
            table: &store.table,
            endpoint_url: store.endpoint_url.as_deref(),
            region: &store.region,
            json,
            now_ms: tollgate_aws::now_ms(),
        })
        .await?),
        Command::Audit {
            verify: Some(AuditCommand::Breakglass { since, json, store }),
            ..
        } => Ok(audit_cmd::breakglass(audit_cmd::BreakGlassArgs {
            since: &since,
            table: &store.table,
            endpoint_url: store.endpoint_url.as_deref(),
            region: &store.region,
            json,
            now_ms: tollgate_aws::now_ms(),
        })
        .await?),
        Command::Audit {
            verify: None,
            id: Some(id),
        } => Ok(audit_cmd::show(&authed()?, &id).await?),
        Command::Audit {
            verify: None,
            id: None,
        } => Err(usage(
            "audit: name a request id, or `audit verify` / `audit breakglass` / `audit reconcile`"
                .into(),
        )),
        Command::Policy(PolicyCommand::Validate { paths }) => Ok(policy_cmd::validate_cmd(&paths)?),
        Command::Policy(PolicyCommand::Replay {
            since,
            until,
            policies,
            json,
            examples,
            account_id,
            own_prefix,
            own_resources,
            store,
        }) => Ok(policy_replay::replay_cmd(policy_replay::ReplayArgs {
            since: &since,
            until: until.as_deref(),
            policies: &policies,
            table: &store.table,
            endpoint_url: store.endpoint_url.as_deref(),
            region: &store.region,
            json,
            examples,
            account_id: account_id.as_deref(),
            own_prefix: own_prefix.as_deref(),
            own_resources: &own_resources,
            now_ms: tollgate_aws::now_ms(),
        })
        .await?),
        Command::Policy(PolicyCommand::Test { dir }) => {
            Ok(policy_test::test_cmd(&dir, policy_cmd::now_secs())?)
        }
        Command::Policy(PolicyCommand::Check {
            request,
            claims,
            policies,
            account,
            region,
        }) => Ok(policy_cmd::check_cmd(policy_cmd::CheckArgs {
            request: &request,
            claims: claims.as_deref(),
            policies: &policies,
            account: &account,
            region: &region,
        })?),
        Command::Token {
            sub,
            approver,
            shape,
            alg,
            ttl,
            groups,
            git_ref,
        } => {
            let mut req = json!({"sub": sub, "approver": approver, "shape": shape, "alg": alg, "ttl_seconds": ttl});
            if !groups.is_empty() {
                req["groups"] = json!(groups);
            }
            if let Some(r) = git_ref {
                req["ref"] = json!(r);
            }
            let client = Client::new(&settings.url, None);
            outln!("{}", client.dev_token_with(&req).await?);
            Ok(exit::SUCCEEDED)
        }
        Command::Request {
            action,
            params,
            params_json,
            reason,
            region,
            target,
            follow,
        } => {
            let mut all = match params_json {
                Some(src) => read_params_json(&src).map_err(usage)?,
                None => Map::new(),
            };
            if let Value::Object(extra) = parse_params(&params).map_err(usage)? {
                all.extend(extra);
            }
            let body = tollgate_core::request::RequestBody {
                action,
                params: all,
                region,
                reason,
                target,
            }
            .to_json();
            let client = authed()?;
            let a = client
                .submit(&body, follow.idempotency_key.as_deref())
                .await?;
            followed(out, &client, a, &follow).await
        }
        Command::Plan {
            file,
            reason,
            by_calls,
            window,
            follow,
        } => {
            let mut body = read_plan(&file, reason).map_err(usage)?;
            if by_calls {
                body["run"] = json!("by_calls");
            }
            if let Some(w) = window {
                body["window_seconds"] = json!(w);
            }
            let client = authed()?;
            let a = client
                .submit_plan(&body, follow.idempotency_key.as_deref())
                .await?;
            followed(out, &client, a, &follow).await
        }
        Command::S3(S3Command::Cp {
            file,
            destination,
            reason,
            region,
            target,
            follow,
        }) => {
            let (bucket, key) = s3_cp::destination(&destination, &file).map_err(usage)?;
            let (bytes, sum) = s3_cp::read(&file)?;
            let body = s3_cp::declaration(
                &bucket,
                &key,
                &bytes,
                &sum,
                reason.as_deref(),
                region.as_deref(),
                target.as_deref(),
            );
            let client = authed()?;
            let mut a = client
                .submit_to("/v1/uploads", &body, follow.idempotency_key.as_deref())
                .await?;
            if a.status == 202 && follow.wait {
                let id = a.body["id"].as_str().unwrap_or_default().to_string();
                let limit = Duration::from_secs(follow.timeout);
                a = watch::until_final(&client, &id, &a, limit).await?;
            }
            if !s3_cp::authorised(&a) {
                if a.status == 202 {
                    // `status --wait` would only show the URL: the bytes go with `s3 cp`.
                    errln!(
                        "tollgate: held for approval; run this command with --wait to upload once it is approved, or again with the same --idempotency-key after the decision"
                    );
                }
                return Ok(report_request(out, &a));
            }
            let n = bytes.len();
            let put = s3_cp::put(&a, bytes).await?;
            if let Some(e) = put.error {
                return Err(Fail {
                    code: exit::FAILED,
                    message: format!("{e} (request {})", a.body["id"].as_str().unwrap_or("?")),
                });
            }
            output::print(Output::Json, &s3_cp::done(&a, &bucket, &key, n, &sum, &put));
            Ok(exit::SUCCEEDED)
        }
        Command::Status { id, wait } => {
            let client = authed()?;
            let a = client.status(&id, 0).await?;
            if wait == 0 || a.status != 200 {
                return Ok(report(out, &a));
            }
            let done = watch::until_final(&client, &id, &a, Duration::from_secs(wait)).await?;
            Ok(report(out, &done))
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "tollgate",
                &mut script,
            );
            outln!("{}", String::from_utf8_lossy(&script).trim_end());
            Ok(exit::SUCCEEDED)
        }
        Command::List {
            status,
            limit,
            cursor,
        } => Ok(report_done(
            out,
            &authed()?
                .list(status.as_deref(), limit, cursor.as_deref())
                .await?,
        )),
        Command::Pending { limit, cursor } => Ok(report_done(
            out,
            &authed()?
                .list(Some("pending"), limit, cursor.as_deref())
                .await?,
        )),
        Command::Credentials { wait, target } => {
            let c = aws_env::fetch(&authed()?, wait, target.as_deref()).await?;
            outln!("{}", aws_env::credential_process(&c));
            Ok(exit::SUCCEEDED)
        }
        Command::Env { wait, target } => {
            let c = aws_env::fetch(&authed()?, wait, target.as_deref()).await?;
            outln!("{}", aws_env::exports(&c, &settings.url).trim_end());
            Ok(exit::SUCCEEDED)
        }
        Command::Cancel { id } => Ok(report(out, &authed()?.cancel(&id).await?)),
        Command::Mcp { wait_seconds } => {
            mcp::serve(settings.url.clone(), settings.token.clone(), wait_seconds).await?;
            Ok(exit::SUCCEEDED)
        }
        Command::Approve {
            id,
            comment,
            grant_uses,
            grant_minutes,
        } => {
            let client = authed()?;
            let a = match (grant_uses, grant_minutes) {
                (Some(uses), Some(minutes)) => {
                    client
                        .approve_with_grant(&id, uses, minutes, comment.as_deref())
                        .await?
                }
                _ => {
                    client
                        .vote(&id, Verdict::Approve, comment.as_deref())
                        .await?
                }
            };
            Ok(report_done(out, &a))
        }
        Command::Grants {
            revoke: Some(GrantsCommand::Revoke { id }),
            ..
        } => Ok(report_done(out, &authed()?.revoke_grant(&id).await?)),
        Command::Grants { revoke: None, json } => {
            let a = authed()?.grants().await?;
            if json || a.status != 200 {
                return Ok(report_done(Output::Json, &a));
            }
            for line in output::grant_lines(&a.body) {
                outln!("{line}");
            }
            Ok(exit::SUCCEEDED)
        }
        Command::Reject { id, comment } => Ok(report_done(
            out,
            &authed()?.vote(&id, Verdict::Reject, Some(&comment)).await?,
        )),
    }
}

fn parse_params(pairs: &[String]) -> Result<Value, String> {
    let mut m = Map::new();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| format!("--param `{p}`: expected KEY=VALUE"))?;
        if k.is_empty() {
            return Err(format!("--param `{p}`: empty key"));
        }
        let v = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
        m.insert(k.to_string(), v);
    }
    Ok(Value::Object(m))
}

fn read_params_json(src: &str) -> Result<Map<String, Value>, String> {
    let text = if src == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| format!("--params-json: cannot read stdin: {e}"))?
    } else {
        std::fs::read_to_string(src)
            .map_err(|e| format!("--params-json: cannot read {src}: {e}"))?
    };
    match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("--params-json: must be a JSON object".into()),
        Err(e) => Err(format!("--params-json: not valid JSON: {e}")),
    }
}

/// The body of `POST /v1/plans` from a plan file: a list of steps or `{reason, steps}`,
/// as JSON or YAML. `reason` replaces the file's.
fn read_plan(src: &str, reason: Option<String>) -> Result<Value, String> {
    let text = if src == "-" {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| format!("plan: cannot read stdin: {e}"))?
    } else {
        std::fs::read_to_string(src).map_err(|e| format!("plan: cannot read {src}: {e}"))?
    };
    let parsed: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(json_error) => serde_yaml::from_str(&text).map_err(|yaml_error| {
            format!("plan: {src} is neither JSON ({json_error}) nor YAML ({yaml_error})")
        })?,
    };
    let mut body = match parsed {
        Value::Array(steps) => json!({"steps": steps}),
        Value::Object(m) if m.contains_key("steps") => Value::Object(m),
        _ => {
            return Err(format!(
                "plan: {src} must be a list of steps or an object with `steps`"
            ));
        }
    };
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    Ok(body)
}

/// A submission's answer, or with `wait` and a held request, its answer once final.
async fn followed(out: Output, client: &Client, a: Answer, follow: &Follow) -> Result<u8, Fail> {
    if a.status == 202 && follow.wait {
        let id = a.body["id"].as_str().unwrap_or_default().to_string();
        let limit = Duration::from_secs(follow.timeout);
        let done = watch::until_final(client, &id, &a, limit).await?;
        return Ok(report_request(out, &done));
    }
    Ok(report_request(out, &a))
}

/// How `request` and `plan` follow what they submitted.
#[derive(clap::Args, Debug)]
struct Follow {
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Wait until the request (or plan) is final and print the outcome.
    #[arg(long)]
    wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
}

/// `request`'s answer: by default just what an agent acts on (see `output::request_answer`).
fn report_request(out: Output, a: &Answer) -> u8 {
    if out == Output::Answer && (200..300).contains(&a.status) {
        output::print(Output::Json, &output::request_answer(&a.body));
        return outcome_code(a);
    }
    report(out, a)
}

/// Prints the answer and maps the request's outcome to an exit code.
fn report(out: Output, a: &Answer) -> u8 {
    output::print(out, &a.body);
    outcome_code(a)
}

fn outcome_code(a: &Answer) -> u8 {
    match (a.status, a.request_state()) {
        (403, _) if a.error_code() == Some("denied") => exit::DENIED,
        (401 | 403, _) => exit::AUTH,
        (400..=599, _) => exit::ERROR,
        (_, Some(Status::Succeeded)) => exit::SUCCEEDED,
        // Approved, and waiting for the agent's calls: nothing more to wait for here.
        (_, Some(Status::Executing)) if output::parked(&a.body) => exit::SUCCEEDED,
        (_, Some(Status::Failed)) => exit::FAILED,
        (_, Some(Status::Denied)) => exit::DENIED,
        (_, Some(Status::Rejected)) => exit::REJECTED,
        (_, Some(Status::Expired)) => exit::EXPIRED,
        (_, Some(Status::Cancelled)) => exit::CANCELLED,
        (_, Some(Status::Pending | Status::Approved | Status::Executing)) => exit::PENDING,
        (_, None) => exit::SUCCEEDED,
    }
}

/// For verbs that succeed when the API accepted them (a vote, a listing), whatever the
/// requests' statuses are.
fn report_done(out: Output, a: &Answer) -> u8 {
    output::print(out, &a.body);
    match a.status {
        200..=299 => exit::SUCCEEDED,
        401 | 403 => exit::AUTH,
        _ => exit::ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_json_or_string() {
        let v = parse_params(&[
            "TableName=orders".into(),
            "Limit=5".into(),
            "Tags=[1]".into(),
            "Q=a=b".into(),
        ])
        .unwrap();
        assert_eq!(
            v,
            json!({"TableName": "orders", "Limit": 5, "Tags": [1], "Q": "a=b"})
        );
        assert!(parse_params(&["nokey".into()]).is_err());
        assert!(parse_params(&["=v".into()]).is_err());
    }

    #[test]
    fn exit_codes_follow_outcomes() {
        let a = |status, body| Answer { status, body };
        let report = |a: &Answer| outcome_code(a);
        assert_eq!(
            report(&a(200, json!({"status": "SUCCEEDED"}))),
            exit::SUCCEEDED
        );
        assert_eq!(report(&a(200, json!({"status": "FAILED"}))), exit::FAILED);
        assert_eq!(
            report(&a(403, json!({"error": {"code": "denied"}}))),
            exit::DENIED
        );
        assert_eq!(
            report(&a(200, json!({"status": "REJECTED"}))),
            exit::REJECTED
        );
        assert_eq!(report(&a(202, json!({"status": "PENDING"}))), exit::PENDING);
        assert_eq!(
            report(&a(401, json!({"error": {"code": "unauthorized"}}))),
            exit::AUTH
        );
        assert_eq!(
            report(&a(403, json!({"error": {"code": "forbidden"}}))),
            exit::AUTH
        );
        assert_eq!(
            report(&a(404, json!({"error": {"code": "not_found"}}))),
            exit::ERROR
        );
        assert_eq!(
            report(&a(200, json!({"status": "CANCELLED"}))),
            exit::CANCELLED
        );
        assert_eq!(report(&a(200, json!({"status": "EXPIRED"}))), exit::EXPIRED);
    }
}
