//! The inventory itself: each place a Supabase service reads a credential, who reads it, and what the
//! gate does with it.

/// Where a credential travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A request header (names compared case-insensitively).
    Header(&'static str),
    /// A query parameter (names compared case-insensitively; `name[]` and `name[x]` count too).
    Query(&'static str),
    /// A field of a `multipart/form-data` body.
    Form(&'static str),
    /// Inside WebSocket frames (Realtime `phx_join` and `access_token` events).
    Frame(&'static str),
}

/// One row of the inventory.
#[derive(Clone, Copy, Debug)]
pub struct Channel {
    /// Where.
    pub place: Place,
    /// Which services read it.
    pub read_by: &'static str,
    /// What it may carry.
    pub carries: &'static str,
    /// What the gate does with it.
    pub gate: &'static str,
}

/// Every place a credential is read by a service behind the gate. The gate reads each of the header and
/// query places below; README's table is this list with sources.
pub const INVENTORY: [Channel; 15] = [
    Channel {
        place: Place::Header("authorization"),
        read_by: "API gateway, PostgREST, GraphQL, Auth, Storage, Functions, Realtime HTTP",
        carries: "`Bearer` user token, publishable/secret key or key JWT; S3 SigV4 signature",
        gate: "classified; a user token is verified and judged",
    },
    Channel {
        place: Place::Header("apikey"),
        read_by: "API gateway (copied into Authorization when that is missing or a key), Auth, Storage",
        carries: "publishable/secret key, anon/service_role key JWT, or a user token",
        gate: "classified; a user token is judged; anything else is refused (`apikey_invalid`)",
    },
    Channel {
        place: Place::Query("apikey"),
        read_by: "API gateway, Realtime (WebSocket connect)",
        carries: "as the `apikey` header",
        gate: "as the `apikey` header; must equal it when both are sent",
    },
    Channel {
        place: Place::Header("x-api-key"),
        read_by: "Realtime (WebSocket connect, read before `?apikey`)",
        carries: "as the `apikey` header",
        gate: "as the `apikey` header; must equal it when both are sent",
    },
    Channel {
        place: Place::Header("sb-api-key"),
        read_by: "Edge Functions runtime (set by the API gateway, which drops a client's own)",
        carries: "a key JWT the gateway derived from the API key",
        gate: "as the `apikey` header (a client has no reason to send it)",
    },
    Channel {
        place: Place::Header("x-amz-security-token"),
        read_by: "Storage S3 (header-signed requests)",
        carries: "a user token (session token of S3 session credentials)",
        gate: "classified; a user token is judged",
    },
    Channel {
        place: Place::Query("x-amz-security-token"),
        read_by: "Storage S3 (presigned URLs)",
        carries: "a user token",
        gate: "classified; a user token is judged",
    },
    Channel {
        place: Place::Query("x-amz-credential"),
        read_by: "Storage S3 (presigned URLs)",
        carries: "an S3 access key id (secret-level unless a session token comes with it)",
        gate: "without a session token: a service credential",
    },
    Channel {
        place: Place::Query("x-amz-signature"),
        read_by: "Storage S3 (presigned URLs)",
        carries: "the SigV4 signature",
        gate: "without a session token: a service credential",
    },
    Channel {
        place: Place::Form("x-amz-security-token"),
        read_by: "Storage S3 (POST-policy uploads)",
        carries: "a user token",
        gate: "not visible without buffering: multipart POSTs to the S3 API are refused unless the route allows form credentials",
    },
    Channel {
        place: Place::Form("x-amz-credential"),
        read_by: "Storage S3 (POST-policy uploads)",
        carries: "an S3 access key id",
        gate: "as above",
    },
    Channel {
        place: Place::Query("token"),
        read_by: "Storage (signed URLs: `/object/sign`, `/render/image/sign`, `/object/upload/sign`)",
        carries: "a Storage-signed URL token, not a user token",
        gate: "not a user credential: those routes are exempt",
    },
    Channel {
        place: Place::Frame("access_token"),
        read_by: "Realtime (`phx_join` payload `access_token`/`user_token`, `access_token` events; realtime_channel.ex)",
        carries: "a user token",
        gate: "judged per frame as a request to the socket's route (relayed by the Worker and the Deno proxy; see README \"Realtime\")",
    },
    Channel {
        place: Place::Form("long-poll body"),
        read_by: "Realtime long-poll (`/socket/longpoll` POST bodies carry the same `phx_join` / `access_token` messages; endpoint.ex)",
        carries: "a user token",
        gate: "refused: under `/realtime/v1` only the WebSocket and the REST API pass (`transport_unsupported`)",
    },
    Channel {
        place: Place::Header("cookie"),
        read_by: "none of the services (supabase-js SSR helpers read cookies in the app, not in Supabase)",
        carries: "session cookies of the app",
        gate: "forwarded unjudged",
    },
];

/// Where Storage serves its S3 protocol.
pub const S3_PATH: &str = "/storage/v1/s3";

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Header(n) => write!(f, "header `{n}`"),
            Place::Query(n) => write!(f, "query parameter `{n}`"),
            Place::Form(n) => write!(f, "form field `{n}`"),
            Place::Frame(n) => write!(f, "WebSocket frame field `{n}`"),
        }
    }
}
