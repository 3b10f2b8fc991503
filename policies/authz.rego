# mem0-gov authorization policy. Entrypoint: mem0/authz/decision.
# Input: PolicyInput (authz/src/types.ts). Data: data.mem0gov (policies/data.json).
# Time comes only from input.now_ms: the wasm clock is never read, so decisions are replayable.
package mem0.authz

import rego.v1

cfg := data.mem0gov

# ---------------------------------------------------------------- routes (DESIGN route table)

# Route -> permission it needs (authz/src/request/routes.ts is the route table; a unit test
# checks both agree). Roles -> permissions live in data (RBAC in data, not here).
route_permission := {
	"memories.create": "write",
	"memories.list": "read",
	"memories.list_all": "platform_admin",
	"memories.get": "read",
	"memories.history": "read",
	"memories.update": "write",
	"memories.delete": "delete",
	"memories.bulk_delete": "bulk_delete",
	"search": "read",
	"entities.list": "read",
	"entities.delete": "admin",
	"reset": "platform_admin",
	"configure.get": "platform_admin",
	"configure.providers": "platform_admin",
	"configure.set": "platform_admin",
	"requests.list": "platform_admin",
	"instructions.generate": "write",
	"docs": "read",
	"audit.events": "audit_read",
	"audit.memory": "audit_read",
	"audit.chains": "audit_read",
	"audit.export": "audit_read",
	"audit.evidence": "audit_read",
}

# The audit API (mem0-gov's own /audit/ routes): audit_read reads the caller's tenant's trail;
# audit_read_all (platform-auditor) every tenant's. The API takes the scope from the decision row
# it is given (audit reason `audit_scope_all`), never from the request.
audit_routes := {r | some r, p in route_permission; p == "audit_read"}

# Mem0's own dashboard accounts and per-user API keys (/auth/*, /api-keys*): a second identity
# system that bypasses the governed one. Known, and always denied.
account_routes := {"mem0.account"}

# Routes that act on every tenant at once. Only platform_admin, which a tenant's own roles and
# break-glass grants never confer (see permissions below).
global_routes := {r | some r, p in route_permission; p == "platform_admin"}

# Routes addressing one memory by id: the looked-up owner is checked.
owner_routes := {"memories.get", "memories.history", "memories.update", "memories.delete"}

# Routes that must name at least one entity id (Mem0 answers 400 otherwise; without one a
# search or write could not be tenant-checked). A list naming none is memories.list_all (the
# parser's doing); here too, in depth, in case an input says otherwise.
entity_required_routes := {"memories.create", "memories.list", "memories.bulk_delete", "search"}

# Routes whose body is memory content (content rules apply).
content_routes := {"memories.create", "memories.update"}

route := input.request.route

known_route if route_permission[route]

known_route if account_routes[route]

# ---------------------------------------------------------------- subject, break-glass, roles

tenant := input.subject.tenant

default break_glass_active := false

break_glass_active if input.break_glass.expires_at_ms > input.now_ms

effective_roles contains r if some r in input.subject.roles

effective_roles contains input.break_glass.role if break_glass_active

# A break-glass grant elevates within the tenant; it never confers a permission that reaches
# every tenant (platform_admin, audit_read_all): a tenant admin's emergency grant stays in the tenant.
platform_permissions := {"platform_admin", "audit_read_all"}

permissions contains p if {
	some r in input.subject.roles
	some p in cfg.roles[r]
}

permissions contains p if {
	break_glass_active
	some p in cfg.roles[input.break_glass.role]
	not platform_permissions[p]
}

# ---------------------------------------------------------------- tenant settings (ABAC)

# Missing keys fall back to "no restriction" so a minimal data file stays valid.
builtin_tenant_defaults := {
	"suspended": false,
	"denied_actions": [],
	"id_prefixes": [],
	"allowed_cidrs": [],
	"allowed_hours_utc": [],
	"custom_prompt_roles": null,
	"raw_storage_roles": null,
	"content_rules": {"mode": "off", "detectors": [], "custom": []},
}

tenant_conf := object.union(
	object.union(builtin_tenant_defaults, object.get(cfg, "tenant_defaults", {})),
	object.get(object.get(cfg, "tenants", {}), tenant, {}),
)

# A tenant name must be non-empty and free of ':' so `T:` prefixes cannot overlap.
tenant_valid if {
	is_string(tenant)
	tenant != ""
	not contains(tenant, ":")
}

source_ip_allowed if count(tenant_conf.allowed_cidrs) == 0

source_ip_allowed if {
	some cidr in tenant_conf.allowed_cidrs
	net.cidr_contains(cidr, input.request.source_ip)
}

utc_hour := floor(input.now_ms / 3600000) % 24

hours_allowed if count(tenant_conf.allowed_hours_utc) == 0

# [start, end) in UTC hours; start > end wraps past midnight.
hours_allowed if {
	some [start, end] in tenant_conf.allowed_hours_utc
	start <= end
	utc_hour >= start
	utc_hour < end
}

hours_allowed if {
	some [start, end] in tenant_conf.allowed_hours_utc
	start > end
	utc_hour >= start
}

hours_allowed if {
	some [start, end] in tenant_conf.allowed_hours_utc
	start > end
	utc_hour < end
}

# ---------------------------------------------------------------- tenant isolation

# An id belongs to the caller's tenant iff it is `<tenant>:<local>` or starts with one of the
# tenant's configured extra prefixes (data: tenants[T].id_prefixes), with a non-empty local part.
own_id(id) if {
	tenant_valid
	is_string(id)
	prefix := concat("", [tenant, ":"])
	startswith(id, prefix)
	count(id) > count(prefix)
}

own_id(id) if {
	tenant_valid
	is_string(id)
	some prefix in tenant_conf.id_prefixes
	prefix != ""
	startswith(id, prefix)
	count(id) > count(prefix)
}

foreign_entity if {
	some e in input.request.entities
	not own_id(e.id)
}

has_entities if count(input.request.entities) > 0

owner_ids contains input.owner[k] if {
	some k in ["user_id", "agent_id", "run_id"]
	is_string(input.owner[k])
	input.owner[k] != ""
}

memory_exists if input.owner.exists == true

# Mem0 keeps the history of a deleted memory; mem0-gov recorded its owner when it allowed the
# delete (a tombstone), so that history stays readable by the owner's tenant alone.
memory_deleted if input.owner.deleted == true

owner_visible if memory_exists

owner_visible if {
	route == "memories.history"
	memory_deleted
}

owner_known if memory_exists

owner_known if memory_deleted

owner_ids_in_tenant if {
	count(owner_ids) > 0
	every id in owner_ids { own_id(id) }
}

# The memory is the caller's iff it names at least one id and every id it names is theirs.
owner_in_tenant if {
	owner_visible
	owner_ids_in_tenant
}

# Missing, deleted, or someone else's: the caller cannot tell which (same reason, same status).
memory_hidden if {
	owner_routes[route]
	not owner_in_tenant
}

memory_is_phi if {
	owner_in_tenant
	input.owner.phi == true
}

# A tenant may restrict request options to some roles: `<option>_roles` lists the roles that
# may use it (absent or null: every role that may use the route).
option_allowed(key) if not is_array(tenant_conf[key])

option_allowed(key) if {
	some r in effective_roles
	r in tenant_conf[key]
}

# ---------------------------------------------------------------- denials

deny contains "tenant_invalid" if not tenant_valid

deny contains "tenant_suspended" if tenant_conf.suspended == true

# Incident response "deny writes": per-tenant actions refused whatever the role. The action is
# taken from the route table (each route's permission is its action), not from
# input.request.action, so a mislabelled action cannot slip past. Break-glass does not lift it.
deny contains "action_denied_for_tenant" if route_permission[route] in tenant_conf.denied_actions

deny contains "source_ip_not_allowed" if not source_ip_allowed

deny contains "outside_allowed_hours" if not hours_allowed

deny contains "unknown_route" if not known_route

deny contains "mem0_account_route" if account_routes[route]

deny contains "role_missing" if {
	route_permission[route]
	not global_routes[route]
	not permissions[route_permission[route]]
}

deny contains "platform_admin_required" if {
	global_routes[route]
	not permissions.platform_admin
}

deny contains "break_glass_required" if {
	route == "reset"
	not break_glass_active
}

deny contains "entity_id_required" if {
	entity_required_routes[route]
	not has_entities
}

deny contains "cross_tenant" if foreign_entity

deny contains "memory_not_found" if memory_hidden

deny contains "phi_permission_missing" if {
	owner_routes[route]
	memory_is_phi
	not permissions.phi
}

deny contains "custom_prompt_not_allowed" if {
	route == "memories.create"
	input.request.options.custom_prompt == true
	not option_allowed("custom_prompt_roles")
}

# infer=false stores messages verbatim (user and assistant alike), skipping Mem0's extraction.
deny contains "raw_storage_not_allowed" if {
	route == "memories.create"
	input.request.options.infer == false
	not option_allowed("raw_storage_roles")
}

# The order in which the single client-facing reason (reasons[0]) is chosen.
reason_priority := [
	"tenant_invalid",
	"tenant_suspended",
	"action_denied_for_tenant",
	"source_ip_not_allowed",
	"outside_allowed_hours",
	"unknown_route",
	"mem0_account_route",
	"role_missing",
	"platform_admin_required",
	"break_glass_required",
	"entity_id_required",
	"cross_tenant",
	"memory_not_found",
	"phi_permission_missing",
	"custom_prompt_not_allowed",
	"raw_storage_not_allowed",
]

reasons := [r | some r in reason_priority; deny[r]]

reason_status := {"entity_id_required": 400, "memory_not_found": 404}

default status := 403

status := object.get(reason_status, reasons[0], 403)

# Audit-only detail: why a memory was hidden. Never sent to the caller.
audit_reasons contains "memory_cross_tenant" if {
	memory_hidden
	owner_known
	not owner_ids_in_tenant
}

audit_reasons contains "memory_absent" if {
	memory_hidden
	not owner_known
}

audit_reasons contains "memory_deleted" if {
	owner_routes[route]
	memory_deleted
}

# The audit API reads every tenant's rows for this caller (platform-auditor).
audit_reasons contains "audit_scope_all" if {
	audit_routes[route]
	permissions.audit_read_all
}

default phi := false

phi if input.request.phi_in_body == true

phi if input.owner.phi == true

default allow := false

allow if count(deny) == 0

# What the response stage enforces on an allowed answer: which entity ids are the caller's
# (none for a platform admin's global routes) and whether PHI may be released.
tenant_prefixes := array.concat([concat("", [tenant, ":"])], [p | some p in tenant_conf.id_prefixes; p != ""])

default phi_allowed := false

phi_allowed if permissions.phi

answer := {"tenant_prefixes": null, "phi_allowed": phi_allowed} if global_routes[route]

answer := {"tenant_prefixes": tenant_prefixes, "phi_allowed": phi_allowed} if not global_routes[route]

default content := null

content := tenant_conf.content_rules if {
	content_routes[route]
	tenant_conf.content_rules.mode != "off"
}

default decision := {"allow": false, "reasons": ["policy_error"], "status": 403}

decision := {
	"allow": true,
	"reasons": [],
	"break_glass": break_glass_active,
	"phi": phi,
	"audit_reasons": sort([r | some r in audit_reasons]),
	"answer": answer,
	"content": content,
} if allow

decision := {
	"allow": false,
	"reasons": reasons,
	"status": status,
	"break_glass": break_glass_active,
	"phi": phi,
	"audit_reasons": sort([r | some r in audit_reasons]),
} if not allow
