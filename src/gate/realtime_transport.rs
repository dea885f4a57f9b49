//! Which of Realtime's paths the gate lets through. The API gateway maps `/realtime/v1/` to Realtime's
//! Phoenix socket (`/socket/…`) and `/realtime/v1/api` to its REST API. The socket has two transports:
//! the WebSocket, whose frames the gate reads, and HTTP long-poll (`/socket/longpoll`, enabled in
//! supabase/realtime `lib/realtime_web/endpoint.ex`), whose request bodies carry the same `phx_join` and
//! `access_token` messages and which the gate does not read. realtime-js never uses long-poll, so the gate
//! lets through only the WebSocket path and the REST API (whose token is in `Authorization`, judged like
//! any request) and refuses every other path under `/realtime/v1`.

use crate::error::{Code, Error};

/// Where Realtime is served.
pub const REALTIME_PATH: &str = "/realtime/v1";

/// Whether a normalised path is Realtime's.
pub fn is_realtime_path(path: &str) -> bool {
    path.strip_prefix(REALTIME_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether a normalised path is Realtime's WebSocket (the only path whose upgrades carry frames).
pub fn is_socket_path(path: &str) -> bool {
    matches!(
        path.strip_prefix(REALTIME_PATH),
        Some("/websocket" | "/websocket/")
    )
}

/// Refuses a normalised path under `/realtime/v1` that is neither the WebSocket nor the REST API.
pub fn check(path: &str) -> Result<(), Error> {
    let Some(rest) = path.strip_prefix(REALTIME_PATH) else {
        return Ok(());
    };
    let rest_api = rest == "/api" || rest.starts_with("/api/");
    if rest.starts_with('/') && !is_socket_path(path) && !rest_api {
        return Err(Error::new(
            Code::TransportUnsupported,
            "only Realtime's WebSocket (/realtime/v1/websocket) and REST API (/realtime/v1/api) pass",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_socket_and_the_rest_api_pass() {
        for ok in [
            "/realtime/v1/websocket",
            "/realtime/v1/websocket/",
            "/realtime/v1/api/broadcast",
            "/realtime/v1/api",
            "/realtime/v1x/longpoll",
            "/rest/v1/realtime/v1/longpoll",
        ] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        for refused in [
            "/realtime/v1/longpoll",
            "/realtime/v1/longpoll/",
            "/realtime/v1/",
            "/realtime/v1/LongPoll",
            "/realtime/v1/websocket/x",
            "/realtime/v1/apix",
        ] {
            assert_eq!(
                check(refused).unwrap_err().code(),
                Code::TransportUnsupported,
                "{refused}"
            );
        }
    }
}
