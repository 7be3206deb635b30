{{- define "shoal.fullname" -}}
{{- if contains "shoal" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-shoal" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "shoal.labels" -}}
app.kubernetes.io/name: shoal
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: the api's are also what the runner NetworkPolicy selects. */}}
{{- define "shoal.selector" -}}
app.kubernetes.io/name: shoal
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "shoal.image" -}}
{{- $repo := required "image.repository is required" .Values.image.repository -}}
{{- $digest := required "image.digest is required (sha256:<64 hex digits>): every pod runs the same build" .Values.image.digest -}}
{{- printf "%s@%s" $repo $digest -}}
{{- end -}}

{{- define "shoal.apiUrl" -}}
{{- printf "http://%s-api.%s.svc:%d" (include "shoal.fullname" .) .Release.Namespace (int .Values.api.port) -}}
{{- end -}}

{{/* A container's security context: restricted Pod Security Standard, read-only root. */}}
{{- define "shoal.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "shoal.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "shoal.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end -}}

{{/* Every SHOAL_* setting the api, the worker and the migration Job share. */}}
{{- define "shoal.env" -}}
{{- $v := .Values -}}
- name: SHOAL_DATA_DIR
  value: /var/lib/shoal
- name: SHOAL_WORK_DIR
  value: /tmp/shoal-work
- name: SHOAL_LOG_FORMAT
  value: json
{{ include "shoal.secretEnv" (dict "name" "SHOAL_DATABASE_URL" "secret" $v.postgres.existingSecret "key" $v.postgres.urlKey) }}
{{ include "shoal.secretEnv" (dict "name" "SHOAL_REDIS_URL" "secret" $v.redis.existingSecret "key" $v.redis.urlKey) }}
- name: SHOAL_OBJECT_STORE
  value: s3
{{- with $v.s3.endpointUrl }}
- name: SHOAL_S3_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
- name: SHOAL_S3_BUCKET
  value: {{ $v.s3.bucket | quote }}
- name: SHOAL_S3_REGION
  value: {{ $v.s3.region | quote }}
{{ include "shoal.secretEnv" (dict "name" "SHOAL_S3_ACCESS_KEY_ID" "secret" $v.s3.existingSecret "key" $v.s3.accessKeyIdKey) }}
{{ include "shoal.secretEnv" (dict "name" "SHOAL_S3_SECRET_ACCESS_KEY" "secret" $v.s3.existingSecret "key" $v.s3.secretAccessKeyKey) }}
- name: SHOAL_GITHUB_API_URL
  value: {{ $v.github.apiUrl | quote }}
{{ include "shoal.secretEnv" (dict "name" "SHOAL_GITHUB_APP_ID" "secret" $v.github.existingSecret "key" $v.github.appIdKey) }}
{{ include "shoal.secretEnv" (dict "name" "SHOAL_GITHUB_PRIVATE_KEY" "secret" $v.github.existingSecret "key" $v.github.privateKeyKey) }}
{{ include "shoal.secretEnv" (dict "name" "SHOAL_GITHUB_WEBHOOK_SECRET" "secret" $v.github.existingSecret "key" $v.github.webhookSecretKey) }}
{{ include "shoal.secretEnv" (dict "name" "SHOAL_ENCRYPTION_KEYS" "secret" $v.keys.existingSecret "key" $v.keys.encryptionKeysKey) }}
{{ include "shoal.secretEnv" (dict "name" "SHOAL_AUDIT_KEY" "secret" $v.keys.existingSecret "key" $v.keys.auditKeyKey) }}
- name: SHOAL_GITHUB_WEBHOOK_RETENTION_DAYS
  value: {{ $v.retention.webhookDeliveriesDays | quote }}
- name: SHOAL_RETENTION_LOG_DAYS
  value: {{ $v.retention.logDays | quote }}
- name: SHOAL_RETENTION_PATCH_DAYS
  value: {{ $v.retention.patchDays | quote }}
- name: SHOAL_RETENTION_WORKSPACE_DAYS
  value: {{ $v.retention.workspaceDays | quote }}
- name: SHOAL_RETENTION_TASK_DAYS
  value: {{ $v.retention.taskDays | quote }}
- name: SHOAL_RETENTION_INTERVAL_S
  value: {{ $v.retention.intervalSeconds | quote }}
- name: SHOAL_RETENTION_BATCH_SIZE
  value: {{ $v.retention.batchSize | quote }}
- name: SHOAL_PUBLIC_URL
  value: {{ $v.publicUrl | default (include "shoal.apiUrl" .) | quote }}
- name: SHOAL_EXECUTOR
  value: kubernetes
- name: SHOAL_EXECUTION_PARALLELISM
  value: {{ $v.executor.parallelism | quote }}
- name: SHOAL_KUBERNETES_NAMESPACE
  value: {{ $v.executor.runnerNamespace | quote }}
- name: SHOAL_KUBERNETES_SERVICE_ACCOUNT
  value: {{ $v.executor.runnerServiceAccount | quote }}
- name: SHOAL_KUBERNETES_RUNNER_IMAGE
  value: {{ include "shoal.image" . | quote }}
- name: SHOAL_KUBERNETES_STEP_IMAGE
  value: {{ required "executor.stepImage is required (registry/name@sha256:<64 hex digits>)" $v.executor.stepImage | quote }}
- name: SHOAL_KUBERNETES_ARTIFACT_URL
  value: {{ include "shoal.apiUrl" . | quote }}
- name: SHOAL_KUBERNETES_ARTIFACT_PORT
  value: {{ $v.api.port | quote }}
- name: SHOAL_KUBERNETES_API_NAMESPACE
  value: {{ .Release.Namespace | quote }}
- name: SHOAL_KUBERNETES_API_POD_LABELS
  value: {{ include "shoal.selector" (dict "root" . "component" "api") | fromYaml | toJson | quote }}
- name: SHOAL_KUBERNETES_CPU_REQUEST
  value: {{ $v.executor.cpuRequest | quote }}
- name: SHOAL_KUBERNETES_CPU_LIMIT
  value: {{ $v.executor.cpuLimit | quote }}
- name: SHOAL_KUBERNETES_MEMORY_REQUEST
  value: {{ $v.executor.memoryRequest | quote }}
- name: SHOAL_KUBERNETES_JOB_TTL_S
  value: {{ $v.executor.jobTtlSeconds | quote }}
- name: SHOAL_KUBERNETES_MAX_JOBS_PER_RUN
  value: {{ $v.executor.maxJobsPerRun | quote }}
- name: SHOAL_EGRESS_ALLOW
  value: {{ $v.egressAllow | toJson | quote }}
{{- end -}}

{{- define "shoal.volumes" -}}
- name: data
  emptyDir:
    sizeLimit: 256Mi
- name: tmp
  emptyDir:
    sizeLimit: 2Gi
{{- end -}}

{{- define "shoal.volumeMounts" -}}
- name: data
  mountPath: /var/lib/shoal
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "shoal.antiAffinity" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "shoal.selector" . | nindent 12 }}
{{- end -}}

{{/* Sign-in to the web UI (session length, OpenID Connect): the api only. */}}
{{- define "shoal.oidcEnv" -}}
{{- $o := .Values.oidc -}}
- name: SHOAL_UI_SESSION_HOURS
  value: {{ .Values.ui.sessionHours | quote }}
{{- if $o.issuer }}
- name: SHOAL_UI_OIDC_ISSUER
  value: {{ $o.issuer | quote }}
- name: SHOAL_UI_OIDC_CLIENT_ID
  value: {{ required "oidc.clientId is required with oidc.issuer" $o.clientId | quote }}
{{- if $o.existingSecret }}
{{ include "shoal.secretEnv" (dict "name" "SHOAL_UI_OIDC_CLIENT_SECRET" "secret" $o.existingSecret "key" $o.clientSecretKey) }}
{{- end }}
- name: SHOAL_UI_OIDC_SCOPES
  value: {{ $o.scopes | quote }}
- name: SHOAL_UI_OIDC_DISPLAY_NAME
  value: {{ $o.displayName | quote }}
- name: SHOAL_UI_OIDC_USERNAME_CLAIM
  value: {{ $o.usernameClaim | quote }}
- name: SHOAL_UI_OIDC_ROLE_CLAIM
  value: {{ $o.roleClaim | quote }}
- name: SHOAL_UI_OIDC_ROLES
  value: {{ required "oidc.roles is required with oidc.issuer" $o.roles | toJson | quote }}
{{- end }}
{{- end -}}
