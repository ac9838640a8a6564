//! Whether one `tools/call` may reach the upstream server: the tool's rule, and for a
//! guarded tool the sidecar's decision on its arguments.
//!
//! Blocking (the client is): the relay runs it on tokio's blocking pool, one call each, so
//! calls are judged side by side.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use rmcp::model::{CallToolResult, ContentBlock, IntoContents, JsonObject};
use sentinel::adjudication::{AdjudicationRequest, CanonicalAction, ExecutorKey, ReceiptClient};
use sentinel::provenance::{action_fingerprint, TrustedKeys};
use sentinel::{
    Action, Context, Denied, FailMode, FallbackKind, GuardDecision, ReviewStatus, SentinelClient,
    SidecarError,
};
use serde_json::Value;

use super::config::{ContextConfig, FailModeName, ReceiptsConfig, SidecarConfig};
use super::rules::{Rule, RuleSet};

/// The actor of every call over `--listen` when `[context] actor` names none: over HTTP the
/// client's own name (its `clientInfo`) is whatever any caller says, so it names no one.
pub const HTTP_ACTOR: &str = "mcp-http-client";

/// How many parked escalations a session remembers.
const MAX_PARKED: usize = 4096;

/// What happens to a call.
#[derive(Debug)]
pub enum Judgement {
    /// Forward it to the upstream server unchanged.
    Forward,
    /// Answer it with this tool result (`isError: true`); the upstream never sees it.
    Refuse(CallToolResult),
    /// Forward it as the protected executor: only on a receipt validated for this request.
    Execute(Box<Execution>),
}

/// A call of a `receipt = true` rule, to run as the protected executor.
#[derive(Debug)]
pub struct Execution {
    /// What is adjudicated.
    pub request: AdjudicationRequest,
    /// The escalation a human approved for this very call, which it resumes
    /// (`ReceiptClient::execute_approved`); `None` for a call adjudicated afresh.
    pub resuming: Option<String>,
    /// Names the call (tool and arguments) among the session's parked escalations.
    pub fingerprint: String,
}

/// The sidecar client built from the `[sentinel]` table, or from the `SENTINEL_*` variables
/// when the file has none.
pub fn sidecar_client(config: Option<&SidecarConfig>) -> Result<SentinelClient, String> {
    let Some(config) = config else {
        return SentinelClient::from_env()
            .map_err(|e| format!("the configuration has no [sentinel] table, and {e}"));
    };
    let mut builder = SentinelClient::builder(config.endpoint.clone());
    if let Some(mode) = config.fail_mode {
        builder = builder.fail_mode(match mode {
            FailModeName::Closed => FailMode::Closed,
            FailModeName::Open => FailMode::Open,
        });
    }
    if let Some(timeout) = &config.timeout_ms {
        builder = builder.timeout(std::time::Duration::from_millis(*timeout.get_ref()));
    }
    for (name, value) in &config.headers {
        builder = builder.header(name.clone(), value.clone());
    }
    for key_id in config.key_ids() {
        builder = builder.trusted_key_id(key_id.get_ref());
    }
    builder.build().map_err(|e| format!("[sentinel]: {e}"))
}

/// The receipt client of `[receipts]`, over the same sidecar client.
pub fn receipt_client(client: &SentinelClient, config: &ReceiptsConfig) -> Result<ReceiptClient, String> {
    let executor = ExecutorKey::from_seed_base64(&config.executor_seed, config.executor.clone())?;
    let mut issuers = TrustedKeys::new();
    for key in &config.issuer_keys {
        issuers = issuers
            .with_key_base64(key)
            .map_err(|e| format!("[receipts] issuer_keys: {e}"))?;
    }
    Ok(ReceiptClient::new(client.clone(), issuers, executor))
}

/// The gate's judge for one MCP session.
pub struct Judge {
    client: SentinelClient,
    receipts: Option<(ReceiptClient, String)>,
    rules: RuleSet,
    context_config: ContextConfig,
    context: RwLock<Arc<Context>>,
    run_id: String,
    /// Whether the client's `initialize` may still name the actor: once, and only on stdio.
    takes_client_name: std::sync::atomic::AtomicBool,
    /// Escalations parked in this session, by the fingerprint of the call they hold back.
    parked: Mutex<HashMap<String, String>>,
}

impl Judge {
    /// A judge for a new session (one run id for all its calls), with the receipt client
    /// and target service for `receipt` rules.
    pub fn new(
        client: SentinelClient,
        receipts: Option<(ReceiptClient, String)>,
        rules: RuleSet,
        context_config: ContextConfig,
    ) -> Self {
        let run_id = format!("mcp-{}", uuid::Uuid::new_v4());
        let context = Arc::new(context_of(&run_id, &context_config, None));
        Judge {
            client,
            receipts,
            rules,
            context_config,
            context: RwLock::new(context),
            run_id,
            takes_client_name: std::sync::atomic::AtomicBool::new(true),
            parked: Mutex::new(HashMap::new()),
        }
    }

    /// The same judge for a session over `--listen`: the actor is `[context] actor`, else
    /// [`HTTP_ACTOR`], never the client's name (any caller could claim any name, and with
    /// it the configuration's roles).
    pub fn over_http(self) -> Self {
        let context = Arc::new(context_of(&self.run_id, &self.context_config, Some(HTTP_ACTOR)));
        *self.context.write().unwrap_or_else(|e| e.into_inner()) = context;
        self.takes_client_name
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self
    }

    /// The rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The receipt client, when the configuration has `[receipts]`.
    pub fn receipts(&self) -> Option<&ReceiptClient> {
        self.receipts.as_ref().map(|(client, _)| client)
    }

    /// Takes the client's name from its first `initialize` as the actor, unless the file
    /// names one; over `--listen`, never (see [`over_http`](Self::over_http)).
    pub fn client_initialized(&self, client_name: Option<&str>) {
        if !self
            .takes_client_name
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        let context = Arc::new(context_of(&self.run_id, &self.context_config, client_name));
        *self.context.write().unwrap_or_else(|e| e.into_inner()) = context;
    }

    /// Judges a call to `tool` with `arguments`. Blocks while the sidecar answers (and, for a
    /// rule that waits for a human, while one decides).
    pub fn judge(&self, tool: &str, arguments: Option<&JsonObject>) -> Judgement {
        let Some(entry) = self.rules.lookup(tool) else {
            return refuse_text(format!(
                "BLOCK: {tool} was not carried out; the gate's configuration has no rule for this \
                 tool, and a tool without a rule is refused"
            ));
        };
        let (policy, kind, wait, receipt) = match &entry.rule {
            Rule::Allow => return Judgement::Forward,
            Rule::Deny => {
                return refuse_text(format!(
                    "BLOCK: {tool} was not carried out; the gate's configuration denies this tool"
                ))
            }
            Rule::Guard {
                policy,
                kind,
                wait_for_human,
                receipt,
            } => (
                policy.as_str(),
                kind.as_deref().unwrap_or(tool),
                *wait_for_human,
                *receipt,
            ),
        };
        let payload = Value::Object(arguments.cloned().unwrap_or_default().into_iter().collect());
        let fingerprint = format!("{tool}\n{}", action_fingerprint(kind, &payload));
        if receipt {
            return self.receipt_request(tool, kind, policy, payload, fingerprint);
        }
        let action = Action::of(kind, payload);
        let context = self.context.read().unwrap_or_else(|e| e.into_inner()).clone();

        let parked = self.parked_escalation(&fingerprint);
        let decision = match parked {
            Some(escalation_id) => self.resume(&fingerprint, &escalation_id, &action, &context, policy),
            None if wait.is_zero() => self.client.guard(&action, &context, policy),
            None => self.client.guard_and_wait(&action, &context, policy, wait),
        };
        if decision.allowed() {
            return Judgement::Forward;
        }
        if let Some(escalation_id) = decision.escalation_id() {
            // Parked (or still pending after the wait): the identical call later resumes on
            // this escalation instead of opening another.
            self.park(fingerprint, escalation_id);
        }
        Judgement::Refuse(denial(Denied::new(decision, kind, policy)))
    }

    /// Remembers that `escalation_id` holds back the call `fingerprint` names.
    pub fn park(&self, fingerprint: String, escalation_id: &str) {
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        if parked.len() >= MAX_PARKED && !parked.contains_key(&fingerprint) {
            // Bounded whatever a client does; a call forgotten here is guarded afresh.
            if let Some(any) = parked.keys().next().cloned() {
                parked.remove(&any);
            }
        }
        parked.insert(fingerprint, escalation_id.to_owned());
    }

    /// Forgets the escalation of the call `fingerprint` names: it was resumed once.
    pub fn unpark(&self, fingerprint: &str) {
        self.parked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(fingerprint);
    }

    /// The adjudication request of a `receipt` rule's call: the tool is the operation, its
    /// arguments the parameters. The identical call after an escalation resumes it once a
    /// human approved it (still pending or denied, it is refused again on the same
    /// escalation, as in plain mode).
    fn receipt_request(
        &self,
        tool: &str,
        kind: &str,
        policy: &str,
        parameters: Value,
        fingerprint: String,
    ) -> Judgement {
        let Some((_, target_service)) = &self.receipts else {
            return refuse_text(format!(
                "BLOCK: {tool} was not carried out; its rule needs receipts, and the gate has no [receipts] table"
            ));
        };
        let context = self.context.read().unwrap_or_else(|e| e.into_inner()).clone();
        let actor = context
            .actor()
            .map_or("mcp-client".to_owned(), |actor| actor.id.clone());
        let mut action =
            match CanonicalAction::new(kind, target_service.clone(), tool, actor, parameters.clone()) {
                Ok(action) => action,
                Err(e) => {
                    return refuse_text(format!(
                        "BLOCK: {tool} was not carried out; it cannot be adjudicated: {e}"
                    ))
                }
            };
        if let Some(tenant) = context.tenant() {
            action = action.tenant(tenant);
        }
        let mut resuming = None;
        if let Some(escalation_id) = self.parked_escalation(&fingerprint) {
            // Only the status is read here: resuming (`SentinelClient::resume`) would use
            // the approval up, should a human approve between the two requests, and the
            // approved call could then never run in this process.
            let refused = |reason: String| {
                GuardDecision::fallback_of(FallbackKind::RefusedByClient, FailMode::Closed, reason)
            };
            let held =
                |decision: GuardDecision| Judgement::Refuse(denial(Denied::new(decision, kind, policy)));
            match self.client.escalation_status(&escalation_id) {
                Ok(ReviewStatus::Approved { .. }) => resuming = Some(escalation_id),
                Ok(ReviewStatus::Pending) => {
                    return held(
                        refused("still pending; the identical call runs once a human approves it".into())
                            .with_escalation_id(escalation_id),
                    )
                }
                Ok(ReviewStatus::Denied { .. }) => {
                    return held(refused(format!(
                        "escalation {escalation_id} was denied by a human"
                    )))
                }
                // Unknown to the sidecar now: adjudicated afresh.
                Err(SidecarError::NotFound(_)) => self.unpark(&fingerprint),
                // No answer about it: still parked, and refused until there is one.
                Err(e) => {
                    return held(refused(format!(
                        "the status of escalation {escalation_id} could not be read: {e}"
                    )))
                }
                // A status this version does not know: adjudicated afresh.
                Ok(_) => self.unpark(&fingerprint),
            }
        }
        Judgement::Execute(Box::new(Execution {
            request: AdjudicationRequest::new(action, (*context).clone(), policy),
            resuming,
            fingerprint,
        }))
    }

    fn parked_escalation(&self, fingerprint: &str) -> Option<String> {
        self.parked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(fingerprint)
            .cloned()
    }

    /// The identical call again after an escalation: runs once if a human approved it;
    /// still pending or denied, it stays parked (a denied call is not asked again in this
    /// session); an escalation the sidecar no longer knows is forgotten, so the next call is
    /// guarded afresh.
    fn resume(
        &self,
        fingerprint: &str,
        escalation_id: &str,
        action: &Action,
        context: &Context,
        policy: &str,
    ) -> GuardDecision {
        let keep = matches!(
            self.client.escalation_status(escalation_id),
            Ok(ReviewStatus::Pending | ReviewStatus::Denied { .. })
        );
        let decision = self.client.resume(escalation_id, action, context, policy);
        if !keep || decision.allowed() {
            self.parked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(fingerprint);
        }
        decision
    }
}

fn context_of(run_id: &str, config: &ContextConfig, client_name: Option<&str>) -> Context {
    let mut context = Context::new(run_id);
    if let Some(actor) = config.actor.as_deref().or(client_name) {
        context = context.with_actor(actor, config.roles.iter().cloned());
    }
    if let Some(tenant) = &config.tenant {
        context = context.with_tenant(tenant.clone());
    }
    if let Some(provider) = &config.provider {
        context = context.with_provider(provider.clone());
    }
    if let Some(model) = &config.model {
        context = context.with_model(model.clone());
    }
    context
}

/// The crate's rmcp integration: the denial's model-facing text as a failed tool result.
pub fn denial(denied: Denied) -> CallToolResult {
    CallToolResult::error(denied.into_contents())
}

fn refuse_text(text: String) -> Judgement {
    Judgement::Refuse(CallToolResult::error(vec![ContentBlock::text(text)]))
}
