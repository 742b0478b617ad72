{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "pokeflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped base name; role objects append "-<role>", so leave room for it. */}}
{{- define "pokeflow.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pokeflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pokeflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pokeflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pokeflow.labels" -}}
helm.sh/chart: {{ include "pokeflow.chart" . }}
{{ include "pokeflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pokeflow
{{- end }}

{{/* Labels of one role's objects: dict "root" . "role" "api". */}}
{{- define "pokeflow.roleLabels" -}}
{{ include "pokeflow.labels" .root }}
app.kubernetes.io/component: {{ .role }}
{{- end }}

{{- define "pokeflow.roleSelectorLabels" -}}
{{ include "pokeflow.selectorLabels" .root }}
app.kubernetes.io/component: {{ .role }}
{{- end }}

{{- define "pokeflow.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "pokeflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pokeflow.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "pokeflow.secretName" -}}
{{- default (printf "%s-secret" (include "pokeflow.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "pokeflow.apiUrl" -}}
{{- printf "http://%s-api:%d" (include "pokeflow.fullname" .) (int .Values.api.service.port) }}
{{- end }}

{{/*
pokeflow.ini: the settings every role shares. Role-specific settings are arguments of that
role's Deployment, so changing them restarts only that role.
*/}}
{{- define "pokeflow.ini" -}}
# Rendered by the pokeflow chart; flags and POKEFLOW_* variables override these lines.
log-level = {{ .Values.logLevel }}
admin-host = 0.0.0.0
admin-port = {{ .Values.adminPort }}
shutdown-timeout = {{ .Values.shutdownTimeout }}
pg-host = {{ .Values.postgresql.host }}
pg-port = {{ .Values.postgresql.port }}
pg-database = {{ .Values.postgresql.database }}
pg-user = {{ .Values.postgresql.user }}
pg-pool-size = {{ .Values.postgresql.poolSize }}
kafka-brokers = {{ .Values.kafka.brokers }}
orders-topic = {{ .Values.kafka.topics.orders }}
states-topic = {{ .Values.kafka.topics.states }}
dlq-topic = {{ .Values.kafka.topics.dlq }}
fraud-rules = /etc/pokeflow/fraud-rules.ini
{{- range $k, $v := .Values.config }}
{{ $k }} = {{ $v }}
{{- end }}
{{- end }}

{{- define "pokeflow.fraudRules" -}}
# Rendered by the pokeflow chart from fraud.rules.
max_price = {{ .Values.fraud.rules.maxPrice }}
blocked_users = {{ join ", " .Values.fraud.rules.blockedUsers }}
blocked_prefixes = {{ join ", " .Values.fraud.rules.blockedPrefixes }}
{{- end }}

{{/*
librdkafka properties as POKEFLOW_KAFKA_PROPERTY wants them ("k=v;k=v"). SASL credentials are
referenced as $(VAR), which Kubernetes expands from the Secret-backed variables defined first.
*/}}
{{- define "pokeflow.kafkaProperties" -}}
{{- $props := list }}
{{- range $k, $v := .Values.kafka.properties }}
{{- $props = append $props (printf "%s=%v" $k $v) }}
{{- end }}
{{- if .Values.kafka.sasl.enabled }}
{{- $props = append $props "sasl.username=$(KAFKA_SASL_USERNAME)" }}
{{- $props = append $props "sasl.password=$(KAFKA_SASL_PASSWORD)" }}
{{- end }}
{{- join ";" $props }}
{{- end }}

{{/* Environment of every pokeflow container: dict "root" . "token" bool "secret" name. */}}
{{- define "pokeflow.env" -}}
{{- $v := .root.Values }}
- name: POKEFLOW_CONFIG
  value: /etc/pokeflow/pokeflow.ini
- name: POKEFLOW_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: pg-password
{{- if .token }}
- name: POKEFLOW_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: api-token
{{- end }}
{{- if $v.kafka.sasl.enabled }}
- name: KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: kafka-sasl-username
- name: KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: kafka-sasl-password
{{- end }}
{{- with include "pokeflow.kafkaProperties" .root }}
- name: POKEFLOW_KAFKA_PROPERTY
  value: {{ . | quote }}
{{- end }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod-level annotations shared by role pods: dict "root" . "role" name. */}}
{{- define "pokeflow.podAnnotations" -}}
checksum/config: {{ include "pokeflow.ini" .root | sha256sum }}
{{- if eq .role "fraud" }}
checksum/fraud-rules: {{ include "pokeflow.fraudRules" .root | sha256sum }}
{{- end }}
{{- if not .root.Values.secrets.existingSecret }}
checksum/secret: {{ include "pokeflow.secretData" .root | sha256sum }}
{{- end }}
{{- if .root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .root.Values.adminPort | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- with .root.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "pokeflow.secretData" -}}
pg-password: {{ .Values.secrets.pgPassword | b64enc | quote }}
api-token: {{ .Values.secrets.apiToken | b64enc | quote }}
{{- if .Values.kafka.sasl.enabled }}
kafka-sasl-username: {{ .Values.kafka.sasl.username | b64enc | quote }}
kafka-sasl-password: {{ .Values.kafka.sasl.password | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
Role-specific arguments after --role=<role>: dict "root" . "role" name.
*/}}
{{- define "pokeflow.roleArgs" -}}
{{- $v := .root.Values }}
{{- $r := index $v .role }}
{{- $args := list (printf "--role=%s" .role) }}
{{- if eq .role "api" }}
{{- $args = append $args "--api-host=0.0.0.0" }}
{{- $args = append $args (printf "--api-port=%d" (int $r.service.port)) }}
{{- $args = append $args (printf "--api-migrate=%t" $r.migrateOnStart) }}
{{- else if eq .role "fraud" }}
{{- $args = append $args (printf "--fraud-group=%s" $r.group) }}
{{- else if eq .role "updater" }}
{{- $args = append $args (printf "--updater-group=%s" $r.group) }}
{{- $args = append $args (printf "--updater-concurrency=%d" (int $r.concurrency)) }}
{{- $args = append $args (printf "--api-url=%s" (default (include "pokeflow.apiUrl" .root) $r.apiUrl)) }}
{{- else if eq .role "reverser" }}
{{- $args = append $args (printf "--reverser-interval=%s" $r.interval) }}
{{- $args = append $args (printf "--reverser-timeout=%s" $r.timeout) }}
{{- $args = append $args (printf "--reverser-batch=%d" (int $r.batch)) }}
{{- $args = append $args (printf "--redrive-after=%s" (toString (default "60s" $r.redriveAfter))) }}
{{- else if eq .role "loadgen" }}
{{- $args = append $args (printf "--api-url=%s" (default (include "pokeflow.apiUrl" .root) $r.apiUrl)) }}
{{- $args = append $args (printf "--users=%d" (int $r.users)) }}
{{- $args = append $args (printf "--orders-per-user=%d" (int $r.ordersPerUser)) }}
{{- $args = append $args (printf "--delay=%s" $r.delay) }}
{{- $args = append $args (printf "--user-ids=%s" (join "," $r.userIds)) }}
{{- $args = append $args (printf "--rate=%v" $r.rate) }}
{{- $args = append $args (printf "--duration=%s" $r.duration) }}
{{- end }}
{{- concat $args $r.extraArgs | toYaml }}
{{- end }}

{{/*
The pod spec of one role, shared by its Deployment and (loadgen) Job:
dict "root" . "role" name "restartPolicy" policy.
*/}}
{{- define "pokeflow.rolePodSpec" -}}
{{- $v := .root.Values }}
{{- $r := index $v .role }}
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
serviceAccountName: {{ include "pokeflow.serviceAccountName" .root }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
{{- with .restartPolicy }}
restartPolicy: {{ . }}
{{- end }}
containers:
  - name: {{ .role }}
    image: {{ include "pokeflow.image" .root | quote }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    args:
      {{- include "pokeflow.roleArgs" . | nindent 6 }}
    env:
      {{- include "pokeflow.env" (dict "root" .root "token" (has .role (list "api" "updater")) "secret" (include "pokeflow.secretName" .root)) | trim | nindent 6 }}
      {{- if $v.chaos.toxiproxy.enabled }}
      # PostgreSQL through the chaos Toxiproxy (templates/toxiproxy.yaml), for network faults.
      - name: POKEFLOW_PG_HOST
        value: {{ printf "%s-toxiproxy" (include "pokeflow.fullname" .root) | quote }}
      {{- end }}
      {{- with $r.env }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    ports:
      {{- if eq .role "api" }}
      - name: http
        containerPort: {{ $r.service.port }}
        protocol: TCP
      {{- end }}
      - name: admin
        containerPort: {{ $v.adminPort }}
        protocol: TCP
    livenessProbe:
      httpGet:
        path: /healthz
        port: admin
      periodSeconds: 10
      failureThreshold: 3
    readinessProbe:
      httpGet:
        path: /readyz
        port: admin
      periodSeconds: 5
      failureThreshold: 2
    startupProbe:
      httpGet:
        path: /healthz
        port: admin
      periodSeconds: 2
      failureThreshold: 30
    resources:
      {{- toYaml $r.resources | nindent 6 }}
    securityContext:
      {{- toYaml $v.securityContext | nindent 6 }}
    volumeMounts:
      - name: config
        mountPath: /etc/pokeflow
        readOnly: true
      - name: tmp
        mountPath: /tmp
volumes:
  - name: config
    configMap:
      name: {{ include "pokeflow.fullname" .root }}-config
  - name: tmp
    emptyDir: {}
{{- with $r.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $r.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $r.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Roles that run as Deployments. */}}
{{- define "pokeflow.deployedRoles" -}}
{{- $roles := list }}
{{- range $role := list "api" "fraud" "updater" "reverser" "loadgen" }}
{{- $r := index $.Values $role }}
{{- if and $r.enabled (or (ne $role "loadgen") (eq $r.kind "Deployment")) }}
{{- $roles = append $roles $role }}
{{- end }}
{{- end }}
{{- join "," $roles }}
{{- end }}

{{/* Checks the schema cannot express; each failure names the value to fix. */}}
{{- define "pokeflow.validate" -}}
{{- range $role := list "api" "fraud" "updater" "reverser" "loadgen" }}
{{- $r := index $.Values $role }}
{{- range $r.extraArgs }}
{{- if or (eq . "--role") (hasPrefix "--role=" .) }}
{{- fail (printf "%s.extraArgs must not contain --role: the chart sets --role=%s" $role $role) }}
{{- end }}
{{- end }}
{{- if and $r.autoscaling.enabled (lt (int $r.autoscaling.maxReplicas) (int $r.autoscaling.minReplicas)) }}
{{- fail (printf "%s.autoscaling.maxReplicas (%v) is below minReplicas (%v)" $role $r.autoscaling.maxReplicas $r.autoscaling.minReplicas) }}
{{- end }}
{{- end }}
{{- range $role := list "updater" "loadgen" }}
{{- $r := index $.Values $role }}
{{- if and $r.enabled (not $.Values.api.enabled) (not $r.apiUrl) }}
{{- fail (printf "%s.apiUrl is required when api.enabled is false (%s calls the API)" $role $role) }}
{{- end }}
{{- end }}
{{- if and .Values.kafka.sasl.enabled (not (hasKey .Values.kafka.properties "sasl.mechanism")) }}
{{- fail "kafka.sasl.enabled needs kafka.properties.\"sasl.mechanism\" (e.g. PLAIN, SCRAM-SHA-512) and security.protocol" }}
{{- end }}
{{- end }}
