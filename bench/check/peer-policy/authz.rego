# The peer's policy for bench/check: opa-envoy-plugin judging the bench's CheckRequest the way
# mem0-gov does for a search, with the same decision — minus what only mem0-gov does (the Redis
# gate: revocation, sessions, rate limits; the audit row). Decision: envoy/authz/allow (boolean).
#   - the bearer token: ES256 signature against the dev issuer's key, issuer, audience, exp/nbf
#     (io.jwt.decode_verify); the key is generated at run time and given as data.bench.jwks;
#   - RBAC: realm_access.roles → permissions (data.bench.roles, the same map as policies/data.json);
#   - the route's permission (POST /search needs read);
#   - tenant isolation: every entity id in the body's filters is `<tenant>:<local>` (parsed_body:
#     opa-envoy-plugin parses a JSON raw_body when skip-request-body-parse is off, the default).
package envoy.authz

import rego.v1

default allow := false

http := input.attributes.request.http

bearer := t if {
	auth := http.headers.authorization
	startswith(auth, "Bearer ")
	t := substring(auth, 7, -1)
}

claims := payload if {
	[valid, _, payload] := io.jwt.decode_verify(bearer, {
		"cert": data.bench.jwks,
		"iss": data.bench.issuer,
		"aud": data.bench.audience,
		"alg": "ES256",
	})
	valid
}

route_permission := {"POST /search": "read", "POST /memories": "write", "GET /memories": "read"}

route := sprintf("%s /%s", [http.method, concat("/", input.parsed_path)])

permissions contains p if {
	some role in claims.realm_access.roles
	some p in data.bench.roles[role]
}

own_id(id) if {
	is_string(id)
	prefix := concat("", [claims.tenant, ":"])
	startswith(id, prefix)
	count(id) > count(prefix)
}

entity_ids contains id if {
	some k in ["user_id", "agent_id", "run_id"]
	id := input.parsed_body.filters[k]
}

tenant_ok if {
	count(entity_ids) > 0
	every id in entity_ids {
		own_id(id)
	}
}

allow if {
	route_permission[route] in permissions
	tenant_ok
}
