//! The exchange endpoint: `POST {exchange.path}` with the IdP token as `Authorization: Bearer …`, answered
//! with a minted token or a refusal (never forwarded: there is nothing upstream to forward to).

use super::mapping::{minted_claims, token_body};
use super::settings::ProviderId;
use super::state::Exchange;
use crate::crypto::SignatureProvider;
use crate::dangerous::peek_issuer;
use crate::error::{Code, Error};
use crate::gate::cache::TokenCache;
use crate::gate::credentials::{bearer, Bearer};
use crate::gate::outcome::Step;
use crate::gate::request::Request;
use crate::gate::verdict::Run;
use crate::wire;

impl Exchange {
    /// Answers one request to the endpoint (or asks for the I/O its verification needs first).
    #[allow(clippy::too_many_arguments)] // Each is one fact of the gate the endpoint needs; no struct would say more.
    pub(crate) fn answer(
        &mut self,
        req: &Request<'_>,
        method: &str,
        provider: Option<&dyn SignatureProvider>,
        cors: &str,
        enrollment_claim: &[String],
        now: u64,
        run: &mut Run,
    ) -> Step {
        let refuse = |e: Error| Step::Answer(wire::reject_with_cors(&e, cors));
        if method == "OPTIONS" && req.has_header("access-control-request-method") {
            run.step(|| "exchange: CORS preflight".into());
            return Step::Answer(wire::exchange_preflight(cors));
        }
        if method != "POST" {
            return refuse(Error::new(
                Code::MethodNotAllowed,
                "the exchange takes POST",
            ));
        }
        let token = match req.headers_named("authorization").as_slice() {
            [] => {
                return refuse(Error::new(
                    Code::TokenMissing,
                    "send the identity provider's token as `Authorization: Bearer …`",
                ))
            }
            [one] => bearer(one),
            _ => Bearer::Several(""),
        };
        let token = match token {
            Bearer::Token(t) => t,
            Bearer::Several(_) => {
                return refuse(Error::new(
                    Code::CredentialsConflict,
                    "several Authorization values",
                ))
            }
            Bearer::Empty | Bearer::OtherScheme(_) => {
                return refuse(Error::new(
                    Code::CredentialsUnsupported,
                    "the Authorization header must use the Bearer scheme",
                ))
            }
        };
        if token.len() > self.config().providers[0].validation.max_token_bytes {
            return refuse(Error::new(
                Code::TokenTooLarge,
                "the token is over the size cap",
            ));
        }
        // The unverified issuer only picks the provider; verification enforces it.
        let Some(id) = peek_issuer(token)
            .and_then(|iss| self.config().providers.iter().position(|p| p.issuer == iss))
            .map(ProviderId)
        else {
            return refuse(Error::new(
                Code::IssuerMismatch,
                "the token's issuer is not a configured identity provider",
            ));
        };
        let digest = TokenCache::digest(token);
        let verified = match self.verification(id, provider).run(token, digest, now) {
            Ok(v) => v,
            Err(Step::Reject(e)) => return refuse(e),
            Err(other) => return other,
        };
        let cfg = self.config();
        let provider = &cfg.providers[id.0];
        let Some(claims) = minted_claims(cfg, provider, verified.claims(), enrollment_claim, now)
        else {
            return refuse(Error::new(
                Code::ClaimMissing,
                "the identity provider's token lacks the configured user id claim",
            ));
        };
        let exp = claims["exp"].as_u64().unwrap_or(now);
        if exp <= now {
            return refuse(Error::new(
                Code::TokenExpired,
                "the identity provider's token expires now",
            ));
        }
        let minted = self.signer().sign(&claims);
        run.log.aal = Some(if claims["aal"] == "aal2" {
            "aal2"
        } else {
            "aal1"
        });
        run.step(|| {
            format!(
                "exchange: token of `{}` verified (issuer and audience checked); minted {}",
                provider.issuer, claims["aal"]
            )
        });
        Step::Answer(wire::exchange_token(&token_body(&minted, now, exp), cors))
    }
}
