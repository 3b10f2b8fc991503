{{/* Names ------------------------------------------------------------------------------ */}}

{{- define "mem0-gov.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped base name; with release "mem0-gov" it is "mem0-gov" (the authz Service is
then mem0-gov-authz, the name envoy/istio/mesh-config.yaml registers). Short enough for
"<fullname>-authz-headless" and StatefulSet pod names. */}}
{{- define "mem0-gov.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "mem0-gov.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels of one component: include "mem0-gov.selectorLabels" (list . "authz") */}}
{{- define "mem0-gov.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "mem0-gov.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "mem0-gov.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "mem0-gov.chart" $root }}
{{ include "mem0-gov.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: mem0-gov
{{- end -}}

{{/* Images --------------------------------------------------------------------------- */}}

{{- define "mem0-gov.imageRef" -}}
{{- $tag := .tag | toString -}}
{{- if .digest -}}
{{- printf "%s%s@%s" .repository (ternary (printf ":%s" $tag) "" (ne $tag "")) .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "mem0-gov.image" -}}
{{- include "mem0-gov.imageRef" (dict "repository" .Values.image.repository "tag" (.Values.image.tag | default .Chart.AppVersion) "digest" .Values.image.digest) -}}
{{- end -}}

{{- define "mem0-gov.envoyImage" -}}
{{- include "mem0-gov.imageRef" .Values.envoy.image -}}
{{- end -}}

{{/* Secrets ---------------------------------------------------------------------------
One credential: (dict "root" $ "cfg" <section> "field" "password" "suffix" "postgresql-writer").
The Secret is cfg.existingSecret, else <fullname>-<suffix>: created by the chart when
cfg.<field> is set, otherwise expected to exist. */}}
{{- define "mem0-gov.secretName" -}}
{{- $value := index .cfg .field | default "" -}}
{{- if and .cfg.existingSecret $value -}}
{{- fail (printf "%s: set either existingSecret or %s, not both" .suffix .field) -}}
{{- end -}}
{{- .cfg.existingSecret | default (printf "%s-%s" (include "mem0-gov.fullname" .root) .suffix) -}}
{{- end -}}

{{/* "true" when the chart creates the Secret of this credential. */}}
{{- define "mem0-gov.createsSecret" -}}
{{- if and (not .cfg.existingSecret) (index .cfg .field | default "") -}}true{{- end -}}
{{- end -}}

{{/* External services ------------------------------------------------------------------ */}}

{{- define "mem0-gov.pgUrl" -}}
{{- $pg := .root.Values.postgresql -}}
{{- $url := printf "postgres://%s@%s:%v/%s" .user $pg.host $pg.port $pg.database -}}
{{- if $pg.params -}}{{- $url = printf "%s?%s" $url $pg.params -}}{{- end -}}
{{- $url -}}
{{- end -}}

{{/* mem0.url → JSON {"host","port","tls","authority"}, the rules of envoy/render.ts'
mem0UpstreamFromUrl: http or https, no credentials, served at the root, default ports 80/443. */}}
{{- define "mem0-gov.mem0Upstream" -}}
{{- $raw := .Values.mem0.url -}}
{{- $u := urlParse $raw -}}
{{- if not (has $u.scheme (list "http" "https")) -}}
{{- fail (printf "mem0.url %q: only http and https are supported" $raw) -}}
{{- end -}}
{{- if $u.userinfo -}}
{{- fail (printf "mem0.url %q: credentials belong in mem0.apiKey" $raw) -}}
{{- end -}}
{{- if or (and $u.path (ne $u.path "/")) $u.query $u.fragment -}}
{{- fail (printf "mem0.url %q: Mem0 must be served at the root (no path, query or fragment), Envoy forwards paths unchanged" $raw) -}}
{{- end -}}
{{- $host := $u.hostname -}}
{{- if not $host -}}{{- fail (printf "mem0.url %q: no host" $raw) -}}{{- end -}}
{{- $tls := eq $u.scheme "https" -}}
{{- $port := regexFind ":[0-9]+$" $u.host | trimPrefix ":" -}}
{{- if not $port -}}{{- $port = ternary "443" "80" $tls -}}{{- end -}}
{{- $ip := or (regexMatch "^[0-9]+(\\.[0-9]+){3}$" $host) (contains ":" $host) -}}
{{- if and $tls $ip -}}
{{- fail (printf "mem0.url %q: https needs a DNS name (the certificate name Envoy checks)" $raw) -}}
{{- end -}}
{{- $hostInAuthority := ternary (printf "[%s]" $host) $host (contains ":" $host) -}}
{{- $authority := ternary $hostInAuthority (printf "%s:%s" $hostInAuthority $port) (eq $port "443") -}}
{{- dict "host" $host "port" ($port | int) "tls" $tls "authority" $authority | toJson -}}
{{- end -}}

{{- define "mem0-gov.authzService" -}}
{{- printf "%s-authz" (include "mem0-gov.fullname" .) -}}
{{- end -}}

{{- define "mem0-gov.authzHeadless" -}}
{{- printf "%s-authz-headless" (include "mem0-gov.fullname" .) -}}
{{- end -}}

{{/* What Envoy resolves: every ready authz pod (per-request balancing over HTTP/2). */}}
{{- define "mem0-gov.authzHeadlessHost" -}}
{{- printf "%s.%s.svc.%s" (include "mem0-gov.authzHeadless" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* The bound on checks in flight from one proxy to authz (the edge Envoy's check cluster, the
Istio sidecars' DestinationRule): the value given, else 16 × the authz processes (replicas ×
workers) — a check costs ~1 ms of a core, so 16 per process is ~16 ms of queue at full speed:
room for a short stall (a replica starting on the same cores) without refusing what could still
be answered in time, while much more only queues (envoy/envoy.yaml "Admission").
include "mem0-gov.checksInFlight" (list . .Values.envoy.checksInFlight) */}}
{{- define "mem0-gov.checksInFlight" -}}
{{- $root := index . 0 -}}
{{- $given := index . 1 -}}
{{- if kindIs "invalid" $given -}}
{{- mul 16 ($root.Values.authz.replicas | int) ($root.Values.authz.workers | int) -}}
{{- else -}}
{{- $given | int -}}
{{- end -}}
{{- end -}}

{{- define "mem0-gov.chainIdPrefix" -}}
{{- .Values.audit.chainIdPrefix | default (printf "%s." .Release.Namespace) -}}
{{- end -}}

{{/* tracing.samplingPercent as OTEL_TRACES_SAMPLER_ARG: a ratio in plain decimals (the
service refuses exponent notation such as 1e-05, which Go prints for small floats). */}}
{{- define "mem0-gov.samplerRatio" -}}
{{- regexReplaceAll "\\.?0+$" (printf "%.8f" (divf .Values.tracing.samplingPercent 100)) "" -}}
{{- end -}}

{{/* Checks that span values ------------------------------------------------------------ */}}
{{- define "mem0-gov.validate" -}}
{{- if and .Values.istio.enabled .Values.envoy.enabled -}}
{{- fail "istio.enabled: Mem0's sidecar asks authz itself; set envoy.enabled=false (an edge Envoy in front would decide, and audit, every request twice)" -}}
{{- end -}}
{{- if not (or .Values.idp.issuers .Values.idp.issuersJson) -}}
{{- fail "idp.issuers (or idp.issuersJson) is required" -}}
{{- end -}}
{{- if and .Values.tracing.enabled (not .Values.tracing.collector.host) -}}
{{- fail "tracing.enabled: set tracing.collector.host (the OTLP/HTTP collector authz and Envoy export to)" -}}
{{- end -}}
{{- if and .Values.policy.shadow.configMap (not (or .Values.policy.shadow.wasmKey .Values.policy.shadow.dataKey)) -}}
{{- fail "policy.shadow.configMap: name the candidate's key(s), policy.shadow.wasmKey and/or policy.shadow.dataKey" -}}
{{- end -}}
{{- if not (regexMatch "^[A-Za-z0-9._:@-]*$" (include "mem0-gov.chainIdPrefix" .)) -}}
{{- fail "audit.chainIdPrefix: only A-Z a-z 0-9 . _ : @ - (MEM0_GOV_AUDIT_CHAIN_ID)" -}}
{{- end -}}
{{- end -}}
