//! The whole of Tollgate on one machine: moto as the AWS emulator, the real state machine,
//! the three functions' handlers served in-process, and a dev identity provider.

pub mod agent_clients;
pub mod answer;
pub mod authorize;
pub mod bootstrap;
pub mod demo;
pub mod issuer;
pub mod lambda;
pub mod moto;
pub mod names;
pub mod secrets;
pub mod server;
pub mod streams;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tollgate_api::Api;
use tollgate_aws::keys::Purpose;
use tollgate_aws::oidc::IssuerConfig;
use tollgate_aws::settings::Settings;
use tollgate_core::ApiError;
use tollgate_core::own::OwnResources;
use tollgate_executor::Executor;
use tollgate_notifier::Notifier;

use crate::issuer::{AGENT_AUDIENCE, APPROVER_AUDIENCE, APPROVER_GROUP, DevIssuer, MintRequest};
use crate::moto::Moto;
use crate::names::Names;
use crate::server::{Functions, Host, ISSUER_PATH, SECOND_ISSUER_PATH, SNS_PATH};

/// How to run the local stack. Every field has a working default.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Address of the API and local host; port 0 picks a free port.
    pub listen: SocketAddr,
    /// moto's port; 0 picks a free port.
    pub moto_port: u16,
    pub moto_bin: Option<PathBuf>,
    pub approval_timeout_seconds: u64,
    /// How long a second approver has to acknowledge a break-glass approval.
    pub breakglass_ack_seconds: u64,
    /// Print approval links as notices arrive.
    pub print_notices: bool,
    /// Show moto's own output.
    pub verbose_moto: bool,
    /// Trusted agent issuers; `{api}` in a URL stands for the stack's base URL. Default: the
    /// dev issuer with the agent audience.
    pub agent_issuers: Option<Vec<IssuerConfig>>,
    /// Trusted approver issuers, likewise. Default: the dev issuer with the approver audience
    /// and the approver group `approvers`.
    pub approver_issuers: Option<Vec<IssuerConfig>>,
    /// Shortest time between two key fetches for unknown key ids.
    pub jwks_min_refresh: Duration,
    /// `bundled`, `dir:<path>`, `ssm:<name>` or `s3://bucket/key` (in the emulator).
    pub policy_source: String,
    /// The shadow policies' source, likewise (none when empty): decided beside the enforced
    /// set, recorded, never enforced.
    pub shadow_policy_source: String,
    /// SSM parameters `(name, value)` to create in the emulator before the API starts
    /// (a policy source to try, for instance).
    pub seed_ssm: Vec<(String, String)>,
    /// S3 objects `(bucket, key, body)` to create likewise.
    pub seed_s3: Vec<(String, String, String)>,
    /// Slack signing secret for `POST /v1/slack/actions` (off when `None`). Kept, with the
    /// bot token and team id, in the Slack app's secret in the emulator.
    pub slack_signing_secret: Option<String>,
    /// Slack user id (or e-mail) → approver identity; `{api}` in an issuer stands for the
    /// stack's URL.
    pub slack_approvers: std::collections::BTreeMap<String, tollgate_core::Identity>,
    /// Bot token for e-mail lookups, and where Slack's Web API is (a test receiver).
    pub slack_bot_token: Option<String>,
    /// The workspace whose members may be mapped by e-mail (needed with a bot token).
    pub slack_team_id: Option<String>,
    pub slack_api_url: Option<String>,
    /// Whether the target may be in Tollgate's own account. The emulator is one account, so
    /// the local stack allows it by default; the template does not.
    pub allow_self_target: bool,
    /// A client secret the dev issuer requires of the approval page at its token endpoint,
    /// as Google does. Kept in a secret in the emulator, named by the dev issuer's approver
    /// entry's `client_secret_arn` (unless the entry names one itself).
    pub approver_client_secret: Option<String>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            moto_port: 0,
            moto_bin: None,
            approval_timeout_seconds: 3600,
            breakglass_ack_seconds: tollgate_core::breakglass::DEFAULT_ACK_SECONDS,
            print_notices: false,
            verbose_moto: false,
            agent_issuers: None,
            approver_issuers: None,
            jwks_min_refresh: Duration::from_secs(1),
            policy_source: "bundled".into(),
            shadow_policy_source: String::new(),
            seed_ssm: vec![],
            seed_s3: vec![],
            slack_signing_secret: None,
            slack_approvers: Default::default(),
            slack_bot_token: None,
            slack_team_id: None,
            slack_api_url: None,
            allow_self_target: true,
            approver_client_secret: None,
        }
    }
}

/// A running local stack. Dropping it stops moto and the server.
pub struct Stack {
    pub api_url: String,
    pub moto_url: String,
    pub names: Names,
    pub sdk: SdkConfig,
    pub state_machine_arn: String,
    /// Every key secret's ARN, the gateway credentials key's too.
    pub key_secret_arns: std::collections::BTreeMap<Purpose, String>,
    settings: Settings,
    /// What the functions' clients use: the local host, which serialises DynamoDB writes.
    functions_sdk: SdkConfig,
    created_secrets: secrets::Created,
    host: Arc<Host>,
    metrics: tollgate_aws::metrics::Metrics,
    moto: Moto,
    moto_bin: PathBuf,
    moto_port: u16,
    verbose_moto: bool,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    streams: tokio::task::JoinHandle<()>,
}

async fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// The functions, built as each one's `main` builds it on Lambda. Policies load from the
/// emulator directly; everything else goes through `functions_sdk`.
async fn cold_start(
    settings: &Settings,
    sdk: &SdkConfig,
    functions_sdk: &SdkConfig,
) -> Result<Functions, String> {
    let policy = tollgate_api::load_policy(settings, sdk).await?;
    let shadow = tollgate_api::load_shadow_policy(settings, sdk).await?;
    Ok(Functions {
        api: Api::new(settings.clone(), functions_sdk, policy)
            .await
            .map_err(|e| e.to_string())?
            .with_shadow(shadow),
        notifier: Notifier::new(settings.clone(), functions_sdk).await?,
        executor: Executor::new(settings.clone(), functions_sdk).await?,
    })
}

/// What is Tollgate's in the emulator: its table, topic, workflow, functions and their roles,
/// secrets, audit bucket and policy source, by ARN (the template uses its stack-name prefix;
/// here the target role shares the `tollgate-` prefix and is not Tollgate's).
fn own_resources<'a>(
    names: &Names,
    state_machine_arn: &str,
    secret_arns: impl Iterator<Item = &'a String>,
    policy_sources: &[&tollgate_aws::policy_source::Source],
) -> Result<OwnResources, String> {
    use tollgate_aws::policy_source::Source;
    let (r, a) = (&names.region, &names.account);
    let mut arns = vec![
        format!("arn:aws:dynamodb:{r}:{a}:table/{}", names.table),
        names.topic_arn(),
        names.alarm_topic_arn(),
        state_machine_arn.to_string(),
        format!("arn:aws:states:{r}:{a}:execution:{}", names.state_machine),
        names.function_arn(&names.api_function),
        names.function_arn(&names.notifier_function),
        names.function_arn(&names.executor_function),
        names.role_arn(&names.state_machine_role),
        names.role_arn(&names.functions_role),
        format!("arn:aws:s3:::{}", names.audit_bucket),
        format!("arn:aws:s3:::{}", names.payload_bucket),
    ];
    arns.extend(secret_arns.cloned());
    for source in policy_sources {
        match source {
            Source::Bundled | Source::Dir(_) => {}
            Source::Ssm(name) => arns.push(format!(
                "arn:aws:ssm:{r}:{a}:parameter/{}",
                name.trim_start_matches('/')
            )),
            Source::S3 { bucket, key } => arns.push(format!("arn:aws:s3:::{bucket}/{key}")),
        }
    }
    OwnResources::new(a, None, &arns)
}

/// The template's buckets: the audit export's and the payload bucket.
async fn create_buckets(names: &Names, moto_url: &str) -> Result<(), String> {
    let s3 = tollgate_aws::s3::S3::new(&names.region, Some(moto_url));
    let creds = Credentials::new("testing", "testing", None, None, "local");
    for bucket in [&names.audit_bucket, &names.payload_bucket] {
        s3.create_bucket(&creds, bucket).await?;
    }
    Ok(())
}

/// SDK configuration for talking to the emulator with its dummy credentials.
pub async fn emulator_sdk(moto_url: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto_url)
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "tollgate-local",
        ))
        .load()
        .await
}

impl Stack {
    pub async fn start(opts: StackOptions) -> Result<Stack, String> {
        let listener = TcpListener::bind(opts.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", opts.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let api_url = format!("http://{addr}");
        let moto_port = if opts.moto_port == 0 {
            free_port().await?
        } else {
            opts.moto_port
        };
        let bin = moto::locate(opts.moto_bin.as_deref())?;
        let moto = Moto::start(&bin, moto_port, addr.port(), opts.verbose_moto).await?;

        let names = Names::default();
        let sdk = emulator_sdk(&moto.url, &names.region).await;
        let state_machine_arn =
            bootstrap::bootstrap(&sdk, &names, &moto.url, &format!("{api_url}{SNS_PATH}")).await?;

        let issuer_url = format!("{api_url}{ISSUER_PATH}");
        let issuer = DevIssuer::new(issuer_url.clone())?;
        let second_issuer = DevIssuer::new(format!("{api_url}{SECOND_ISSUER_PATH}"))?;
        let resolve = |list: Option<Vec<IssuerConfig>>, audience: &str| -> Vec<IssuerConfig> {
            match list {
                // The dev issuer's approvers are in `approvers` unless minted with other groups.
                None if audience == APPROVER_AUDIENCE => vec![IssuerConfig {
                    approver_groups: vec![APPROVER_GROUP.into()],
                    ..IssuerConfig::new(&issuer_url, audience)
                }],
                None => vec![IssuerConfig::new(&issuer_url, audience)],
                Some(l) => l
                    .into_iter()
                    .map(|mut c| {
                        c.issuer = c.issuer.replace("{api}", &api_url);
                        c.jwks_uri = c.jwks_uri.map(|u| u.replace("{api}", &api_url));
                        c
                    })
                    .collect(),
            }
        };
        let slack_secret = opts.slack_signing_secret.as_ref().map(|secret| {
            serde_json::json!({
                "signing_secret": secret,
                "bot_token": opts.slack_bot_token,
                "team_id": opts.slack_team_id,
            })
        });
        let (secret_ids, key_secret_arns, mut created_secrets) =
            secrets::create_all(&sdk, slack_secret.as_ref()).await?;
        let mut approver_issuers = resolve(opts.approver_issuers, APPROVER_AUDIENCE);
        if let Some(secret) = &opts.approver_client_secret {
            issuer.require_client_secret(secret);
            let arn = secrets::create_client_secret(&sdk, &mut created_secrets, secret).await?;
            for c in approver_issuers
                .iter_mut()
                .filter(|c| c.issuer == issuer_url)
            {
                c.client_secret_arn.get_or_insert_with(|| arn.clone());
            }
        }
        let policy_source = tollgate_aws::policy_source::Source::parse(&opts.policy_source)?;
        let shadow_policy_source = match opts.shadow_policy_source.trim() {
            "" => None,
            s => Some(tollgate_aws::policy_source::Source::parse(s)?),
        };
        let own_resources = own_resources(
            &names,
            &state_machine_arn,
            key_secret_arns
                .values()
                .chain(secret_ids.slack_actions.as_ref()),
            &[Some(&policy_source), shadow_policy_source.as_ref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>(),
        )?;
        let settings = Settings {
            table: names.table.clone(),
            state_machine_arn: state_machine_arn.clone(),
            topic_arn: names.topic_arn(),
            alarm_topic_arn: Some(names.alarm_topic_arn()),
            payload_bucket: Some(names.payload_bucket.clone()),
            breakglass_ack_seconds: opts.breakglass_ack_seconds,
            executor_function: names.executor_function.clone(),
            targets: [
                ("default".to_string(), names.role_arn(&names.target_role)),
                ("sandbox".to_string(), names.role_arn(&names.sandbox_role)),
            ]
            .into(),
            public_url: api_url.clone(),
            front_door_url: Default::default(),
            secrets: secret_ids,
            account_id: names.account.clone(),
            allow_self_target: opts.allow_self_target,
            own_resources,
            agent_issuers: resolve(opts.agent_issuers, AGENT_AUDIENCE),
            approver_issuers,
            default_region: names.region.clone(),
            approval_timeout_seconds: opts.approval_timeout_seconds,
            max_plan_steps: tollgate_core::plan::DEFAULT_MAX_STEPS,
            jwks_min_refresh: opts.jwks_min_refresh,
            lambda_endpoint: Some(api_url.clone()),
            aws_endpoint: Some(moto.url.clone()),
            policy_source,
            shadow_policy_source,
            metrics: tollgate_aws::metrics::Metrics::memory(),
            slack_approvers: opts
                .slack_approvers
                .iter()
                .map(|(user, id)| {
                    let mut id = id.clone();
                    id.issuer = id.issuer.replace("{api}", &api_url);
                    (user.clone(), id)
                })
                .collect(),
            slack_api_url: opts
                .slack_api_url
                .clone()
                .unwrap_or_else(|| "https://slack.com/api".into()),
        };
        let metrics = settings.metrics.clone();
        bootstrap::seed(&moto.url, &opts.seed_ssm, &opts.seed_s3).await?;
        lambda::register(
            &moto.url,
            &names,
            &settings,
            &names.role_arn(&names.functions_role),
        )
        .await?;
        // The functions reach DynamoDB through the local host, which serialises writes: moto
        // answers a failed transaction by restoring a snapshot of the whole table, losing
        // whatever a concurrent writer committed in between; DynamoDB does not.
        let functions_sdk = emulator_sdk(&api_url, &names.region).await;
        let host = Arc::new(Host::new(
            (issuer, second_issuer),
            moto.url.clone(),
            names.notifier_function.clone(),
            names.executor_function.clone(),
            opts.print_notices,
        ));
        let (shutdown, rx) = watch::channel(false);
        let server = tokio::spawn(server::serve(listener, host.clone(), rx));
        // A cold start, as on Lambda: each function reads its keys from Secrets Manager.
        host.install(cold_start(&settings, &sdk, &functions_sdk).await?);
        create_buckets(&names, &moto.url).await?;
        let exporter = tollgate_audit_export::Exporter::new(
            &sdk,
            names.audit_bucket.clone(),
            "audit/".into(),
            Some(&moto.url),
        )?;
        let streams = tokio::spawn(streams::follow(
            sdk.clone(),
            moto.url.clone(),
            names.table.clone(),
            exporter,
        ));
        Ok(Stack {
            api_url,
            moto_url: moto.url.clone(),
            names,
            sdk,
            state_machine_arn,
            key_secret_arns,
            settings,
            functions_sdk,
            created_secrets,
            host,
            metrics,
            moto,
            moto_bin: bin,
            moto_port,
            verbose_moto: opts.verbose_moto,
            shutdown,
            server,
            streams,
        })
    }

    /// The functions' settings (what their environment says on AWS).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The settings the next [`Stack::cold_start`] uses (a test changing configuration, as an
    /// operator's stack update would).
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Starts the three functions afresh, as a new Lambda instance would: policies and keys
    /// are read again (after a key rotation, say). Calls in flight finish on the old ones.
    pub async fn cold_start(&self) -> Result<(), String> {
        self.host
            .install(cold_start(&self.settings, &self.sdk, &self.functions_sdk).await?);
        Ok(())
    }

    /// Mints a dev token for `sub` (an approver token when `approver`).
    pub fn token(&self, sub: &str, approver: bool) -> Result<String, String> {
        self.host
            .issuer
            .mint(&MintRequest {
                sub: sub.to_string(),
                approver,
                ..Default::default()
            })
            .map(|m| m.token)
    }

    pub fn issuer(&self) -> &DevIssuer {
        &self.host.issuer
    }

    /// A second dev issuer, trusted only when a test configures it.
    pub fn second_issuer(&self) -> &DevIssuer {
        &self.host.second_issuer
    }

    /// Mints a token with every option of the dev issuer.
    pub fn mint(&self, req: &MintRequest) -> Result<String, String> {
        self.host.issuer.mint(req).map(|m| m.token)
    }

    /// EMF metric lines the functions emitted so far.
    pub fn metrics(&self) -> Vec<String> {
        self.metrics.lines()
    }

    /// Notices delivered through SNS so far.
    pub fn outbox(&self) -> Vec<Value> {
        self.host
            .outbox
            .lock()
            .map(|o| o.clone())
            .unwrap_or_default()
    }

    pub fn moto_running(&mut self) -> bool {
        self.moto.is_running()
    }

    /// Faults to inject into the local host (reliability tests).
    pub fn faults(&self) -> &server::Faults {
        &self.host.faults
    }

    /// How often the functions called an AWS operation through the local host, by its
    /// `x-amz-target` (`AWSStepFunctions.SendTaskSuccess`) or query action (`SNS.Publish`).
    pub fn calls(&self, operation: &str) -> usize {
        self.host
            .calls
            .lock()
            .map(|c| c.get(operation).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Every role session STS opened for the functions (the executor's, the preview's), with
    /// the session name, source identity and tags they asked for and the key STS issued.
    pub fn sessions(&self) -> Vec<server::OpenedSession> {
        self.host
            .sessions
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Starts recording every call through the local host with its timing
    /// ([`server::Traced`]), dropping what an earlier trace held.
    pub fn start_trace(&self) {
        *self.host.trace.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
    }

    /// What the trace recorded since [`Stack::start_trace`] (or the last take); tracing goes on.
    pub fn take_trace(&self) -> Vec<server::Traced> {
        self.host
            .trace
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Runs the sweeper once, as its schedule would on AWS, with `bound_ms` as the quiet time
    /// after which a request whose workflow is gone counts as stuck (a test passes a short
    /// one; a deployment's is at least a minute). It reaches AWS through the local host,
    /// like the other functions.
    pub async fn sweep(&self, bound_ms: u64) -> Result<tollgate_sweeper::Report, ApiError> {
        tollgate_sweeper::Sweeper::new(
            &self.functions_sdk,
            self.settings.table.clone(),
            self.settings.state_machine_arn.clone(),
            self.settings.topic_arn.clone(),
            bound_ms,
        )
        .with_alarms(
            tollgate_sweeper::Sweeper::alarm_topic(
                &self.functions_sdk,
                self.settings.alarm_topic_arn.clone(),
            ),
            self.settings.public_url.clone(),
        )
        .with_public_url(&self.settings.public_url)
        .sweep(tollgate_aws::now_ms())
        .await
    }

    /// Stops a request's workflow in the emulator (Step Functions' StopExecution), as an
    /// operator, a failed deploy or a `States.Runtime` error would end it.
    pub async fn stop_workflow(&self, request_id: &str) -> Result<(), String> {
        use tollgate_aws::ports::RequestReader;
        let sfn = aws_sdk_sfn::Client::new(&self.sdk);
        let arn = tollgate_aws::workflow::execution_arn(&self.state_machine_arn, request_id);
        sfn.stop_execution()
            .execution_arn(&arn)
            .error("Stopped")
            .cause("stopped by a test")
            .send()
            .await
            .map_err(|e| aws_sdk_sfn::error::DisplayErrorContext(e).to_string())?;
        // moto marks the execution stopped only when its worker wakes, and a worker waiting
        // for a task token wakes only when the token is answered (Step Functions itself
        // reports the stop at once). Answering the stopped execution's token wakes it; the
        // stopped program then ends as ABORTED without running another state.
        let store = tollgate_aws::store::Store::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.names.table.clone(),
        );
        if let Some(token) = store
            .get(request_id)
            .await
            .map_err(|e| e.message)?
            .and_then(|r| r.task_token)
        {
            let _ = sfn
                .send_task_failure()
                .task_token(token)
                .error("Stopped")
                .send()
                .await;
        }
        Ok(())
    }

    /// Waits until the emulator reports the request's workflow no longer running (a worker
    /// held in a function call notices its stop when the call returns).
    pub async fn wait_workflow_ended(&self, request_id: &str) -> Result<(), String> {
        let sfn = aws_sdk_sfn::Client::new(&self.sdk);
        let arn = tollgate_aws::workflow::execution_arn(&self.state_machine_arn, request_id);
        for _ in 0..200 {
            let out = sfn
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
                .map_err(|e| aws_sdk_sfn::error::DisplayErrorContext(e).to_string())?;
            if out.status() != &aws_sdk_sfn::types::ExecutionStatus::Running {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!(
            "the workflow of {request_id} still runs 10 s after StopExecution"
        ))
    }

    /// Kills the emulator, as a crash would.
    pub async fn kill_moto(&mut self) {
        self.moto.stop().await;
    }

    /// Starts a fresh emulator on the same port and recreates the stack's resources in it.
    /// moto keeps its state in memory, so whatever the killed one held is gone.
    pub async fn restart_moto(&mut self) -> Result<(), String> {
        self.moto.stop().await;
        self.moto = Moto::start(
            &self.moto_bin,
            self.moto_port,
            self.host_port()?,
            self.verbose_moto,
        )
        .await?;
        let arn = bootstrap::bootstrap(
            &self.sdk,
            &self.names,
            &self.moto.url,
            &format!("{}{SNS_PATH}", self.api_url),
        )
        .await?;
        if arn != self.state_machine_arn {
            return Err(format!("state machine came back as {arn}"));
        }
        // The same keys again, under new ARNs, for the next cold start.
        let arns = secrets::recreate(&self.sdk, &self.created_secrets).await?;
        for (p, arn) in self.settings.secrets.keys.iter_mut() {
            if let Some(a) = arns.get(&secrets::key_secret_name(*p)) {
                arn.clone_from(a);
            }
        }
        if let Some(a) = arns.get(secrets::SLACK_ACTIONS_SECRET) {
            self.settings.secrets.slack_actions = Some(a.clone());
        }
        lambda::register(
            &self.moto.url,
            &self.names,
            &self.settings,
            &self.names.role_arn(&self.names.functions_role),
        )
        .await?;
        create_buckets(&self.names, &self.moto.url).await
    }

    fn host_port(&self) -> Result<u16, String> {
        self.api_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("no port in {}", self.api_url))
    }

    /// Stops the server and moto, and waits for both.
    pub async fn stop(mut self) {
        self.streams.abort();
        let _ = self.shutdown.send(true);
        let _ = (&mut self.server).await;
        self.moto.stop().await;
    }
}
