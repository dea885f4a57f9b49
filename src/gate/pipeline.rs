//! The decision pipeline for one request, one function per step:
//!
//! ```text
//! path → exchange? → preflight? → route → credentials → token (cache | keys → verify)
//!      → service role? → access → enrollment fact → assurance → Decision
//! ```
//!
//! Each step either hands the next one what it found or ends the decision with a [`Step`]: a verdict,
//! or a ticket for the adapter's I/O (see [`super::outcome`]).

use super::cache::TokenCache;
use super::credentials::{self, Credentials, Presented};
use super::enrollment::{Fact, FactSource, Fallback, LookupCredentials};
use super::outcome::{Outcome, Step};
use super::policy;
use super::proof;
use super::request::Request;
use super::requirement::AuthRequirement;
use super::route::{self, RouteRule};
use super::verdict::{
    Decision, DecisionLog, Forward, Identity, Mode, Run, Verdict, IDENTITY_HEADER_PREFIX,
};
use super::verification::Verification;
use super::Gate;
use crate::error::{Code, Error};
use crate::verify::VerifiedToken;
use crate::wire::{reject_with_cors, Answer};
use std::borrow::Cow;
use std::sync::Arc;

type Next<T> = std::result::Result<T, Step>;

impl Gate {
    /// Decides `req` at `now` (seconds since the epoch).
    pub fn decide(&mut self, req: &Request<'_>, now: u64) -> Outcome {
        let mut run = Run::new(req.method, self.trace);
        let step = match self.pipeline(req, now, &mut run) {
            Ok(never) => match never {},
            Err(step) => step,
        };
        match step {
            Step::Fetch(urls) => Outcome::FetchKeys(urls),
            Step::Verify(job) => Outcome::VerifySignature(*job),
            Step::Lookup(job) => Outcome::LookupEnrollment(*job),
            Step::Wait(ms, code) => Outcome::Wait(ms, code),
            Step::Answer(answer) => {
                run.log.decision = "answer";
                run.log.code = Some(answer.code);
                run.step(|| format!("answer: {} {}", answer.status, answer.code));
                Outcome::Done(run.verdict(Decision::Answer(answer)))
            }
            Step::Forward(identity) => {
                Outcome::Done(self.forward_with_proof(identity, None, run, req, now))
            }
            Step::Reject(error) => {
                let answer = reject_with_cors(&error, self.config.cors_allow_origin());
                run.log.code = Some(answer.code);
                run.step(|| {
                    format!(
                        "refuse: {} {} ({})",
                        answer.status,
                        answer.code,
                        error.context()
                    )
                });
                if self.config.mode() == Mode::ReportOnly {
                    run.step(|| "report_only: forwarding anyway".into());
                    Outcome::Done(self.forward_with_proof(
                        Identity::Anonymous,
                        Some(answer),
                        run,
                        req,
                        now,
                    ))
                } else {
                    run.log.decision = "reject";
                    Outcome::Done(run.verdict(Decision::Reject(answer)))
                }
            }
        }
    }

    /// A refusal verdict for `error` (adapters use it when they must fail closed on their own).
    pub fn reject_now(&self, error: &Error, req: &Request<'_>) -> Verdict {
        let answer = reject_with_cors(error, self.config.cors_allow_origin());
        let mut run = Run::new(req.method, self.trace);
        run.log.code = Some(answer.code);
        if self.config.mode() == Mode::ReportOnly {
            run.step(|| {
                format!(
                    "refuse: {} {} (report_only: forwarding anyway)",
                    answer.status, answer.code
                )
            });
            return self.forward(Identity::Anonymous, Some(answer), run);
        }
        Verdict {
            log: DecisionLog {
                decision: "reject",
                ..run.log
            },
            steps: vec![format!("refuse: {} {}", answer.status, answer.code)],
            decision: Decision::Reject(answer),
        }
    }

    /// [`Gate::forward`], plus gate-only mode's proof on a Data API request the gate lets through.
    fn forward_with_proof(
        &self,
        identity: Identity,
        would_reject: Option<Answer>,
        run: Run,
        req: &Request<'_>,
        now: u64,
    ) -> Verdict {
        let mut verdict = self.forward(identity, would_reject, run);
        if let (Some(secret), Decision::Forward(f)) = (&self.proof_secret, &mut verdict.decision) {
            if let Some(path) = proof::data_api_path(req.path) {
                f.add_headers.push((
                    proof::PROOF_HEADER.to_owned(),
                    proof::sign(secret, now, req.method, path),
                ));
            }
        }
        verdict
    }

    fn forward(&self, identity: Identity, would_reject: Option<Answer>, mut run: Run) -> Verdict {
        run.log.decision = "forward";
        let mut add_headers = Vec::new();
        if let Identity::User(token) = &identity {
            let c = token.claims();
            if self.config.log_user_id() {
                run.log.user = c.sub.clone();
            }
            if self.config.identity_headers() {
                let mut add = |name: &str, value: Option<&str>| {
                    if let Some(v) =
                        value.filter(|v| v.bytes().all(|b| b.is_ascii_graphic() || b == b' '))
                    {
                        add_headers.push((format!("{IDENTITY_HEADER_PREFIX}{name}"), v.to_owned()));
                    }
                };
                add("user-id", c.sub.as_deref());
                add("role", c.role.as_deref());
                add("aal", Some(c.aal.as_str()));
                add("session-id", c.session_id.as_deref());
            }
        }
        run.step(|| {
            format!(
                "forward upstream (inbound {IDENTITY_HEADER_PREFIX}* headers stripped{})",
                if add_headers.is_empty() {
                    String::new()
                } else {
                    format!(", {} identity headers added", add_headers.len())
                }
            )
        });
        run.verdict(Decision::Forward(Forward {
            identity,
            add_headers,
            would_reject,
        }))
    }

    /// Every step in order; `Ok` is unreachable (each path ends in a [`Step`]).
    fn pipeline(
        &mut self,
        req: &Request<'_>,
        now: u64,
        run: &mut Run,
    ) -> Next<std::convert::Infallible> {
        let method = req.method.to_ascii_uppercase();
        let path = route::normalize_path(req.path).map_err(|why| {
            run.log.route = "invalid-path".into();
            Step::Reject(Error::new(Code::PathInvalid, why))
        })?;
        // 0. The gate's own token exchange endpoint.
        if let Some(x) = self.exchange.as_mut().filter(|x| x.config().path == path) {
            run.log.route = "exchange".into();
            return Err(x.answer(
                req,
                &method,
                self.provider.as_deref(),
                self.config.cors_allow_origin(),
                &self.config.enrollment().claim,
                now,
                run,
            ));
        }
        let presented = credentials::extract(
            req,
            &path,
            self.config.validation().max_token_bytes,
            &mut self.memo,
        );
        let rule = self.route_step(req, &method, &path, &presented, run)?;
        let (token, api_key) = self.credentials_step(&rule, presented, run)?;
        let verified = self.token_step(&token, now, run)?;
        self.service_role_step(&verified, &method, &path, run)?;
        // Access rules that need no enrollment fact: what they refuse never causes an Auth lookup.
        policy::check_access(&rule, &verified, &self.limits(), now).map_err(Step::Reject)?;
        let enrolled =
            self.enrollment_step(&rule, &verified, &token, api_key.as_deref(), now, run)?;
        // Assurance: aal (with the enrollment fact) and MFA recency.
        let (result, facts) =
            policy::check_assurance(&rule, &verified, &self.limits(), enrolled, now);
        run.log.enrolled = facts.enrolled;
        result.map_err(Step::Reject)?;
        run.step(|| format!("policy: route `{}` satisfied", rule.name));
        Err(Step::Forward(Identity::User(verified)))
    }

    /// What the policy needs of the configuration.
    fn limits(&self) -> policy::Limits<'_> {
        policy::Limits {
            user_max_lifetime: self.config.user_max_lifetime(),
            leeway: self.config.validation().leeway,
            enrollment: self.config.enrollment(),
        }
    }

    /// CORS preflight (never blocked), then the route rule.
    fn route_step(
        &self,
        req: &Request<'_>,
        method: &str,
        path: &str,
        presented: &Presented<'_>,
        run: &mut Run,
    ) -> Next<Arc<RouteRule>> {
        // Browsers send a preflight without credentials; an OPTIONS request that carries some is not a
        // preflight and goes through the checks like any other request.
        if method == "OPTIONS"
            && req.has_header("access-control-request-method")
            && !presented.any()
        {
            run.log.route = "preflight".into();
            run.step(|| "CORS preflight: passes unchecked".into());
            return Err(Step::Forward(Identity::Anonymous));
        }
        let rule = self.config.route_for(method, path).clone();
        run.log.route = rule.name.clone();
        // Realtime's long-poll transport carries joins in bodies the gate does not read.
        super::realtime_transport::check(path).map_err(Step::Reject)?;
        run.step(|| {
            format!(
                "route: `{}` ({} {}) matched {} {}",
                rule.name,
                pattern_methods(&rule),
                rule.pattern.as_str(),
                req.method,
                path
            )
        });
        Ok(rule)
    }

    /// Credentials, from every place a service behind the gate reads them: the user token to verify
    /// and the request's API key, or the end of the decision.
    fn credentials_step<'r>(
        &self,
        rule: &RouteRule,
        presented: Presented<'r>,
        run: &mut Run,
    ) -> Next<(Cow<'r, str>, Option<Cow<'r, str>>)> {
        let exempt = rule.auth == AuthRequirement::None;
        if let (false, Some(problem)) = (exempt, &presented.problem) {
            return Err(Step::Reject(problem.clone()));
        }
        if presented.service && !rule.allow_service_keys {
            // On exempt routes too: a secret-level credential is never usable from the public
            // internet unless a route says so.
            return Err(Step::Reject(Error::new(
                Code::ServiceKeyForbidden,
                format!("route `{}` does not allow service keys", rule.name),
            )));
        }
        if exempt {
            run.step(|| "route is exempt (auth = none): passes unchecked".into());
            return Err(Step::Forward(Identity::Anonymous));
        }
        if presented.form_credentials && !rule.allow_form_credentials {
            return Err(Step::Reject(Error::new(
                Code::FormCredentialsUnsupported,
                format!(
                    "route `{}` does not allow S3 POST-policy uploads (their credentials travel in the form body, which the gate does not read)",
                    rule.name
                ),
            )));
        }
        match presented.credentials().map_err(Step::Reject)? {
            Credentials::Service => {
                run.step(|| {
                    "credentials: service key (sb_secret_…, service_role key or S3 access key)"
                        .into()
                });
                Err(Step::Forward(Identity::Service))
            }
            Credentials::Anonymous => {
                run.step(|| "credentials: no user (no token, publishable key or anon key)".into());
                if rule.auth == AuthRequirement::Required {
                    return Err(Step::Reject(Error::new(
                        Code::TokenMissing,
                        format!("route `{}` requires a user token", rule.name),
                    )));
                }
                run.step(|| "anonymous request on an auth = optional route: RLS decides".into());
                Err(Step::Forward(Identity::Anonymous))
            }
            Credentials::User { token, .. } => {
                run.step(|| "credentials: user access token".into());
                Ok((token, presented.api_key))
            }
        }
    }

    /// The verified token, from the cache when the exact token was verified before.
    fn token_step(&mut self, token: &str, now: u64, run: &mut Run) -> Next<Arc<VerifiedToken>> {
        let digest = TokenCache::digest(token);
        let leeway = self.config.validation().leeway;
        let verified = match self.cache.get(&digest, now, leeway, &self.keys) {
            Some(hit) => {
                run.log.cached = true;
                run.step(|| "token: verified before (cache hit; exp and key rechecked)".into());
                hit
            }
            None => {
                let v = Arc::new(
                    Verification {
                        keys: &mut self.keys,
                        validation: self.config.validation(),
                        concluded: &mut self.concluded,
                        provider: self.provider.as_deref(),
                        exchange_provider: None,
                        keys_unavailable: "no signing keys could be fetched",
                    }
                    .run(token, digest, now)?,
                );
                run.step(|| {
                    format!(
                        "token: signature and claims verified ({}, aal {})",
                        v.header().alg(),
                        v.claims().aal.as_str()
                    )
                });
                self.cache.insert(digest, Arc::clone(&v), token.len());
                v
            }
        };
        run.log.aal = Some(verified.claims().aal.as_str());
        Ok(verified)
    }

    /// A backend service's own role: its scopes replace the route's user rules.
    fn service_role_step(
        &self,
        verified: &Arc<VerifiedToken>,
        method: &str,
        path: &str,
        run: &mut Run,
    ) -> Next<()> {
        let role = verified.claims().role.as_deref().unwrap_or("");
        let Some(service) = self.config.service_roles().iter().find(|s| s.role == role) else {
            return Ok(());
        };
        policy::check_service(service, method, path, verified).map_err(Step::Reject)?;
        run.step(|| format!("service role `{role}`: within its scopes"));
        Err(Step::Forward(Identity::User(Arc::clone(verified))))
    }

    /// The enrollment fact, when the route needs it (may take an Auth lookup first).
    fn enrollment_step(
        &mut self,
        rule: &RouteRule,
        verified: &VerifiedToken,
        token: &str,
        api_key: Option<&str>,
        now: u64,
        run: &mut Run,
    ) -> Next<Option<bool>> {
        if !policy::needs_enrollment(rule, verified.claims()) {
            return Ok(None);
        }
        // Tokens the exchange minted are for users Supabase Auth does not know: their claim decides.
        let minted = self.exchange.as_ref().is_some_and(|x| x.minted(verified));
        let from_project =
            !minted && verified.claims().iss.as_deref() == Some(self.config.supabase_issuer());
        let creds = LookupCredentials {
            token,
            apikey: api_key,
        };
        let cfg = self.config.enrollment();
        match self
            .enrollment
            .fact(cfg, verified.claims(), from_project, &creds, now)
        {
            Fact::Known(enrolled, source) => {
                run.log.enrollment_source = Some(source.as_str());
                run.step(|| match source {
                    FactSource::Claim => {
                        format!("enrollment: claim `{}` = {enrolled}", cfg.claim.join("."))
                    }
                    FactSource::Api => format!("enrollment: Auth API says {enrolled}"),
                });
                Ok(Some(enrolled))
            }
            Fact::Unknown => Ok(None),
            Fact::Failed => match cfg.on_api_failure {
                Fallback::Refuse => Err(Step::Reject(Error::new(
                    Code::EnrollmentUnavailable,
                    "the Auth API lookup of the user's factors failed",
                ))),
                Fallback::TreatAsEnrolled => Ok(Some(true)),
                Fallback::TreatAsNotEnrolled => Ok(Some(false)),
            },
            // Not an Auth outage: never subject to `on_api_failure`.
            Fact::Rejected => Err(Step::Reject(Error::new(
                Code::TokenRejected,
                "Supabase Auth refused the token or its apikey when asked for the user's factors",
            ))),
            Fact::NoApiKey => Err(Step::Reject(Error::new(
                Code::ApikeyRequired,
                "the route needs Auth's answer about the user's MFA factors, and neither the request nor enrollment.api_key gives an apikey",
            ))),
            Fact::Lookup(job) => {
                run.step(|| format!("enrollment: ask Auth ({})", job.url()));
                Err(Step::Lookup(Box::new(job)))
            }
            Fact::Wait(ms) => Err(Step::Wait(ms, Code::EnrollmentUnavailable)),
        }
    }
}

fn pattern_methods(rule: &RouteRule) -> String {
    if rule.methods.is_empty() {
        "any method".into()
    } else {
        rule.methods.join("|")
    }
}
