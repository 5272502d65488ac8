{{- define "aftershock.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aftershock.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "aftershock.labels" -}}
app.kubernetes.io/name: {{ include "aftershock.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "aftershock.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aftershock.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aftershock.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aftershock.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "aftershock.tokenSecret" -}}
{{- default (printf "%s-token" (include "aftershock.fullname" .)) .Values.api.token.existingSecret -}}
{{- end -}}

{{- define "aftershock.notifySecret" -}}
{{- default (printf "%s-notify" (include "aftershock.fullname" .)) .Values.notify.existingSecret -}}
{{- end -}}

{{- define "aftershock.catalogConfigMap" -}}
{{- default (printf "%s-catalog" (include "aftershock.fullname" .)) .Values.existingCatalogConfigMap -}}
{{- end -}}

{{/* The settings file: chart values first, then `settings` merged over them. */}}
{{- define "aftershock.settings" -}}
{{- $base := dict
  "safety" (dict "dry_run" .Values.dryRun)
  "catalog" (dict "path" "/etc/aftershock/experiments")
  "store" (dict "path" "/var/lib/aftershock/history.db")
  "kube" (dict "mode" "in-cluster" "cluster_scope" (eq .Values.rbac.scope "cluster"))
  "api" (dict "port" (int .Values.service.port) "auth" .Values.api.auth "protect_reads" .Values.api.protectReads "token_file" "/etc/aftershock/token/token")
  "leader" (dict "enabled" .Values.leaderElection.enabled "lease_name" (printf "%s-leader" (include "aftershock.fullname" .)))
  "logging" (dict "format" "json")
  "nodes" (dict "enabled" .Values.nodeDrills.enabled)
-}}
{{- if .Values.notify.sinks -}}
{{- $notify := dict "sinks" .Values.notify.sinks -}}
{{- with .Values.notify.publicUrl }}{{ $_ := set $notify "public_url" . }}{{ end -}}
{{- with .Values.notify.digest }}{{ $_ := set $notify "digest" . }}{{ end -}}
{{- $_ := set $base "notify" $notify -}}
{{- end -}}
{{- $settings := mustMergeOverwrite $base (deepCopy .Values.settings) -}}
{{- if eq (dig "prometheus" "url" "" $settings) "" -}}
{{- $_ := set $settings.prometheus "url" nil -}}
{{- end -}}
{{- toYaml $settings -}}
{{- end -}}

{{/* What aftershock needs in every namespace it may target (docs/operations/helm.md, RBAC). */}}
{{- define "aftershock.targetRules" -}}
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, delete]
- apiGroups: [""]
  resources: [pods/eviction]
  verbs: [create]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
- apiGroups: [apps]
  resources: [deployments, statefulsets, daemonsets, replicasets]
  verbs: [get, list, watch]
{{- if .Values.rbac.scaleDeployments }}
- apiGroups: [apps]
  resources: [deployments/scale]
  verbs: [patch]
{{- end }}
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch]
{{- end }}
