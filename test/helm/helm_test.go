package helmcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// POKEFLOW_CHART lets a mutated copy of the chart be checked against these tests.
var chart = func() string {
	if c := os.Getenv("POKEFLOW_CHART"); c != "" {
		return c
	}
	return "../../helm/pokeflow"
}()

var roles = []string{"api", "fraud", "updater", "reverser"}

func helmBin(t *testing.T) string {
	t.Helper()
	h := os.Getenv("HELM")
	if h == "" {
		t.Fatal("HELM is not set: run test/helm/run.sh, which builds helm and sets it")
	}
	return h
}

// helm runs helm and returns stdout, stderr and whether it succeeded.
func helm(t *testing.T, args ...string) (string, string, bool) {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err == nil
}

// render templates the chart (hooks and tests included) and decodes every object strictly.
func render(t *testing.T, valuesFiles ...string) []Object {
	t.Helper()
	return renderArgs(t, nil, valuesFiles...)
}

// renderArgs is render with extra helm template flags (e.g. --api-versions).
func renderArgs(t *testing.T, extra []string, valuesFiles ...string) []Object {
	t.Helper()
	args := append([]string{"template", "rel", chart, "--namespace", "ns"}, extra...)
	for _, f := range valuesFiles {
		args = append(args, "-f", filepath.Join("values", f))
	}
	out, errOut, ok := helm(t, args...)
	if !ok {
		t.Fatalf("helm %s failed:\n%s", strings.Join(args, " "), errOut)
	}
	objs, err := DecodeStrict([]byte(out))
	if err != nil {
		t.Fatalf("strict decoding of %v failed:\n%v", valuesFiles, err)
	}
	if len(objs) == 0 {
		t.Fatalf("%v rendered no objects", valuesFiles)
	}
	return objs
}

func all[T any](objs []Object) []*T {
	var r []*T
	for _, o := range objs {
		if v, ok := any(o.Obj).(*T); ok {
			r = append(r, v)
		}
	}
	return r
}

func byName[T any](t *testing.T, objs []Object, name string) *T {
	t.Helper()
	for _, o := range objs {
		if v, ok := any(o.Obj).(*T); ok {
			if m, ok := o.Obj.(metav1.Object); ok && m.GetName() == name {
				return v
			}
		}
	}
	var zero T
	t.Fatalf("no %T named %s", zero, name)
	return nil
}

func envOf(c corev1.Container, name string) (corev1.EnvVar, int) {
	for i, e := range c.Env {
		if e.Name == name {
			return e, i
		}
	}
	return corev1.EnvVar{}, -1
}

func deploymentNames(objs []Object) []string {
	var names []string
	for _, d := range all[appsv1.Deployment](objs) {
		names = append(names, d.Name)
	}
	slices.Sort(names)
	return names
}

func checkRoleDeployment(t *testing.T, d *appsv1.Deployment, role string) {
	t.Helper()
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: want 1 container, got %d", d.Name, len(spec.Containers))
	}
	c := spec.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "--role="+role {
		t.Errorf("%s: args must start with --role=%s, got %v", d.Name, role, c.Args)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("%s: liveness probe must GET /healthz", d.Name)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("%s: readiness probe must GET /readyz", d.Name)
	}
	if e, _ := envOf(c, "POKEFLOW_CONFIG"); e.Value != "/etc/pokeflow/pokeflow.ini" {
		t.Errorf("%s: POKEFLOW_CONFIG = %q", d.Name, e.Value)
	}
	if e, _ := envOf(c, "POKEFLOW_PG_PASSWORD"); e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Errorf("%s: POKEFLOW_PG_PASSWORD must come from a Secret", d.Name)
	}
	ann := d.Spec.Template.Annotations
	if ann["checksum/config"] == "" || ann["prometheus.io/scrape"] != "true" {
		t.Errorf("%s: pod annotations lack checksum/config or prometheus.io/scrape: %v", d.Name, ann)
	}
	if role == "fraud" && ann["checksum/fraud-rules"] == "" {
		t.Errorf("%s: fraud pods must roll when the rules change", d.Name)
	}
	if d.Spec.Template.Labels["app.kubernetes.io/component"] != role {
		t.Errorf("%s: pod label app.kubernetes.io/component must be %s", d.Name, role)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: container must have a read-only root filesystem", d.Name)
	}
}

func TestLintStrict(t *testing.T) {
	files, _ := filepath.Glob("values/*.yaml")
	sets := [][]string{nil}
	for _, f := range files {
		sets = append(sets, []string{f})
	}
	for _, set := range sets {
		args := []string{"lint", "--strict", chart}
		for _, f := range set {
			args = append(args, "-f", f)
		}
		if out, errOut, ok := helm(t, args...); !ok {
			t.Errorf("helm %s failed:\n%s%s", strings.Join(args, " "), out, errOut)
		}
	}
}

func TestEveryValuesFileDecodesStrictly(t *testing.T) {
	files, _ := filepath.Glob("values/*.yaml")
	if len(files) < 5 {
		t.Fatalf("expected the values files of test/helm/values, found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { render(t, filepath.Base(f)) })
	}
}

func TestDefaults(t *testing.T) {
	objs := render(t)
	want := []string{"rel-pokeflow-api", "rel-pokeflow-fraud", "rel-pokeflow-reverser", "rel-pokeflow-updater"}
	if got := deploymentNames(objs); !slices.Equal(got, want) {
		t.Fatalf("deployments: got %v, want %v (loadgen is off by default)", got, want)
	}
	for _, role := range roles {
		d := byName[appsv1.Deployment](t, objs, "rel-pokeflow-"+role)
		checkRoleDeployment(t, d, role)
		svc := byName[corev1.Service](t, objs, "rel-pokeflow-"+role)
		hasAdmin := slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "admin" && p.Port == 9100 })
		if !hasAdmin {
			t.Errorf("service %s lacks the admin port 9100", svc.Name)
		}
	}
	api := byName[corev1.Service](t, objs, "rel-pokeflow-api")
	if !slices.ContainsFunc(api.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "http" && p.Port == 8000 }) {
		t.Errorf("api service lacks port 8000")
	}
	if n := len(all[autoscalingv2.HorizontalPodAutoscaler](objs)); n != 0 {
		t.Errorf("autoscaling must be off by default (kubectl scale must just work), got %d HPAs", n)
	}
	for _, d := range all[appsv1.Deployment](objs) {
		if d.Spec.Replicas == nil {
			t.Errorf("%s: replicas must be set when autoscaling is off", d.Name)
		}
	}
	hook := byName[batchv1.Job](t, objs, "rel-pokeflow-hook")
	if hook.Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" {
		t.Errorf("hook job annotations: %v", hook.Annotations)
	}
	ps := hook.Spec.Template.Spec
	if len(ps.InitContainers) != 2 || !slices.Equal(ps.InitContainers[0].Args, []string{"migrate"}) {
		t.Errorf("hook must run `pokeflow migrate` first, got %+v", ps.InitContainers)
	} else if !slices.Equal(ps.InitContainers[1].Args, []string{"topics", "init", "--profile=safe", "--partitions=3"}) {
		t.Errorf("hook must run `pokeflow topics init --profile=safe --partitions=3` second, got %v", ps.InitContainers[1].Args)
	}
	// Last: existing topics grow to kafka.partitions (a no-op when they have it already).
	if len(ps.Containers) != 1 || !slices.Equal(ps.Containers[0].Args, []string{"topics", "grow", "--partitions=3"}) {
		t.Errorf("hook must end with `pokeflow topics grow --partitions=3`, got %+v", ps.Containers)
	}
	// Pre-install hooks run before the release's own objects exist: the hook's config and
	// secret must be hooks too, created before the Job.
	for _, name := range []string{"rel-pokeflow-hook"} {
		cm := byName[corev1.ConfigMap](t, objs, name)
		sec := byName[corev1.Secret](t, objs, name)
		if cm.Annotations["helm.sh/hook-weight"] != "-10" || sec.Annotations["helm.sh/hook-weight"] != "-10" {
			t.Errorf("hook ConfigMap and Secret must be created before the hook Job")
		}
	}
	test := byName[corev1.Pod](t, objs, "rel-pokeflow-test-order")
	if test.Annotations["helm.sh/hook"] != "test" {
		t.Errorf("test pod must be a helm test hook")
	}
	cm := byName[corev1.ConfigMap](t, objs, "rel-pokeflow-config")
	if !strings.Contains(cm.Data["fraud-rules.ini"], "max_price = 200") ||
		!strings.Contains(cm.Data["pokeflow.ini"], "fraud-rules = /etc/pokeflow/fraud-rules.ini") {
		t.Errorf("config map data: %v", cm.Data)
	}
	rev := byName[appsv1.Deployment](t, objs, "rel-pokeflow-reverser").Spec.Template.Spec.Containers[0]
	for _, a := range []string{"--reverser-interval=60s", "--reverser-timeout=30m", "--redrive-after=60s"} {
		if !slices.Contains(rev.Args, a) {
			t.Errorf("reverser args %v lack %s", rev.Args, a)
		}
	}
	for _, o := range objs {
		m := o.Obj.(metav1.Object)
		l := m.GetLabels()
		if l["app.kubernetes.io/name"] != "pokeflow" || l["app.kubernetes.io/instance"] != "rel" ||
			l["app.kubernetes.io/managed-by"] != "Helm" {
			t.Errorf("%s %s lacks the app.kubernetes.io labels: %v", o.GVK.Kind, m.GetName(), l)
		}
		if m.GetName() != "" && len(m.GetName()) > 63 {
			t.Errorf("%s name too long: %s", o.GVK.Kind, m.GetName())
		}
	}
}

// serviceMonitorAPI makes helm template render as for a cluster that serves the Prometheus
// Operator's ServiceMonitor (templates/servicemonitor.yaml checks .Capabilities).
var serviceMonitorAPI = []string{"--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"}

func TestAllRolesScaled(t *testing.T) {
	objs := renderArgs(t, serviceMonitorAPI, "all-roles.yaml")
	if got := len(all[appsv1.Deployment](objs)); got != 5 {
		t.Fatalf("want 5 deployments (loadgen as Deployment), got %d", got)
	}
	for _, role := range append(slices.Clone(roles), "loadgen") {
		d := byName[appsv1.Deployment](t, objs, "rel-pokeflow-"+role)
		checkRoleDeployment(t, d, role)
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
			t.Errorf("%s: want 3 replicas", d.Name)
		}
		pdb := byName[policyv1.PodDisruptionBudget](t, objs, "rel-pokeflow-"+role)
		if pdb.Spec.MinAvailable == nil && pdb.Spec.MaxUnavailable == nil {
			t.Errorf("%s: PDB without a bound", pdb.Name)
		}
	}
	fraud := byName[appsv1.Deployment](t, objs, "rel-pokeflow-fraud").Spec.Template.Spec
	if fraud.NodeSelector["pool"] != "workers" || len(fraud.Tolerations) != 1 || fraud.Affinity == nil {
		t.Errorf("fraud scheduling values not applied: %+v", fraud)
	}
	if !slices.Contains(fraud.Containers[0].Args, "--log-level=debug") {
		t.Errorf("fraud extraArgs not applied: %v", fraud.Containers[0].Args)
	}
	if e, _ := envOf(fraud.Containers[0], "EXTRA"); e.Value != "yes" {
		t.Errorf("fraud env not applied")
	}
	if len(all[monitoringv1.ServiceMonitor](objs)) != 1 {
		t.Errorf("want one ServiceMonitor")
	}
}

// Without the CRD's API a ServiceMonitor would fail the whole install: the chart leaves it out
// (test/kube installs on a real API server without, then with, the CRD).
func TestServiceMonitorOnlyWhereItsCRDIsServed(t *testing.T) {
	if n := len(all[monitoringv1.ServiceMonitor](render(t, "all-roles.yaml"))); n != 0 {
		t.Errorf("ServiceMonitor rendered for a cluster without monitoring.coreos.com/v1: %d", n)
	}
	if n := len(all[monitoringv1.ServiceMonitor](renderArgs(t, serviceMonitorAPI))); n != 0 {
		t.Errorf("ServiceMonitor rendered with metrics.serviceMonitor.enabled=false: %d", n)
	}
}

func TestHPA(t *testing.T) {
	objs := render(t, "hpa.yaml")
	hpas := all[autoscalingv2.HorizontalPodAutoscaler](objs)
	if len(hpas) != 2 {
		t.Fatalf("want HPAs for api and fraud, got %d", len(hpas))
	}
	for _, h := range hpas {
		d := byName[appsv1.Deployment](t, objs, h.Spec.ScaleTargetRef.Name)
		if d.Spec.Replicas != nil {
			t.Errorf("%s: replicas must be left to the HPA", d.Name)
		}
		m := h.Spec.Metrics
		if len(m) != 1 || m[0].Resource == nil || m[0].Resource.Name != corev1.ResourceCPU {
			t.Errorf("%s: HPA must scale on CPU", h.Name)
		}
	}
}

func TestExistingSecret(t *testing.T) {
	objs := render(t, "existing-secret.yaml")
	if n := len(all[corev1.Secret](objs)); n != 0 {
		t.Errorf("with existingSecret the chart must create no Secret, got %d", n)
	}
	check := func(where string, c corev1.Container) {
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name != "my-pokeflow" {
				t.Errorf("%s: %s refers to secret %s", where, e.Name, e.ValueFrom.SecretKeyRef.Name)
			}
		}
	}
	for _, d := range all[appsv1.Deployment](objs) {
		check(d.Name, d.Spec.Template.Spec.Containers[0])
	}
	for _, j := range all[batchv1.Job](objs) {
		for _, c := range append(j.Spec.Template.Spec.InitContainers, j.Spec.Template.Spec.Containers...) {
			check(j.Name, c)
		}
	}
}

// chaosContainer returns the chaos Job's container and its env as a map (every variable the
// chart sets is a plain value except the namespace and the password).
func chaosContainer(t *testing.T, objs []Object, job string) (corev1.Container, map[string]corev1.EnvVar) {
	t.Helper()
	j := byName[batchv1.Job](t, objs, job)
	if len(j.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%s: want 1 container", job)
	}
	c := j.Spec.Template.Spec.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("%s: %s set twice (the later silently wins)", job, e.Name)
		}
		env[e.Name] = e
	}
	return c, env
}

// wantEnv checks plain values of the variables chaos/README.md says the suite reads.
func wantEnv(t *testing.T, env map[string]corev1.EnvVar, want map[string]string) {
	t.Helper()
	for k, v := range want {
		e, ok := env[k]
		switch {
		case !ok:
			t.Errorf("chaos job lacks %s", k)
		case e.Value != v:
			t.Errorf("chaos job %s = %q, want %q", k, e.Value, v)
		}
	}
}

func TestChaos(t *testing.T) {
	objs := render(t, "chaos.yaml")
	job := byName[batchv1.Job](t, objs, "rel-pokeflow-chaos-7")
	if job.Spec.Template.Spec.ServiceAccountName != "rel-pokeflow-chaos" {
		t.Errorf("chaos job must run as its own service account")
	}
	role := byName[rbacv1.Role](t, objs, "rel-pokeflow-chaos")
	if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].Resources, []string{"pods"}) ||
		!slices.Equal(role.Rules[0].APIGroups, []string{""}) ||
		!slices.Equal(role.Rules[0].Verbs, []string{"list", "delete"}) {
		t.Errorf("chaos RBAC must be pods list/delete only, got %+v", role.Rules)
	}
	if n := len(all[rbacv1.ClusterRole](objs)); n != 0 {
		t.Errorf("chaos must not need cluster-wide rights")
	}
	rb := byName[rbacv1.RoleBinding](t, objs, "rel-pokeflow-chaos")
	if rb.Subjects[0].Name != "rel-pokeflow-chaos" || rb.Subjects[0].Namespace != "ns" {
		t.Errorf("role binding subject: %+v", rb.Subjects)
	}

	// The Kubernetes variants (pod termination), verbatim, and nothing else: chaos/experiments
	// drive scripts/stack.sh, which does not exist in the cluster. Those whose faults go
	// through Toxiproxy only when the chart deploys it (TestChaosToxiproxy).
	cm := byName[corev1.ConfigMap](t, objs, "rel-pokeflow-chaos-experiments")
	files, _ := filepath.Glob(filepath.Join(chart, "files/chaos-k8s/*.yaml"))
	repoFiles, _ := filepath.Glob("../../chaos/k8s/*.yaml")
	if len(files) == 0 || len(files) != len(repoFiles) {
		t.Fatalf("files/chaos-k8s must link to chaos/k8s: %d files there, %d in chaos/k8s", len(files), len(repoFiles))
	}
	var podFaults []string
	for _, f := range files {
		if data, _ := os.ReadFile(f); !strings.Contains(string(data), "chaostoxi.") {
			podFaults = append(podFaults, f)
		}
	}
	if len(cm.Data) != len(podFaults) || len(podFaults) == len(files) {
		t.Errorf("experiments ConfigMap holds %d files; chaos/k8s has %d, %d of them without Toxiproxy",
			len(cm.Data), len(files), len(podFaults))
	}
	for _, f := range podFaults {
		want, _ := os.ReadFile(f)
		got := cm.Data[filepath.Base(f)]
		if strings.TrimSpace(got) != strings.TrimSpace(string(want)) {
			t.Errorf("experiment %s not packaged verbatim", filepath.Base(f))
		}
		if !strings.Contains(got, "chaosk8s.pod.actions") && !strings.HasPrefix(filepath.Base(f), "01-") {
			t.Errorf("%s: not a Kubernetes variant (no chaosk8s action)", filepath.Base(f))
		}
		if strings.Contains(got, "stack.sh") || strings.Contains(got, "pokeflow_chaos.faults") {
			t.Errorf("%s: drives the local stack, cannot run in the cluster", filepath.Base(f))
		}
	}

	c, env := chaosContainer(t, objs, "rel-pokeflow-chaos-7")
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["experiments"] != "/experiments/k8s" || mounts["config"] != "/etc/pokeflow" || mounts["tmp"] != "/tmp" {
		t.Errorf("chaos mounts: %v", mounts)
	}
	script := strings.Join(c.Args, "\n")
	for _, want := range []string{"cd /experiments/k8s", `CHAOS_WORKDIR="/tmp/chaos/${e%.yaml}"`, "--rollback-strategy always"} {
		if !strings.Contains(script, want) {
			t.Errorf("chaos script lacks %s:\n%s", want, script)
		}
	}
	wantEnv(t, env, map[string]string{
		"CHAOSTOOLKIT_IN_POD":         "true",
		"CHAOS_K8S_KAFKA_SELECTOR":    "app.kubernetes.io/name=kafka",
		"CHAOS_K8S_POSTGRES_SELECTOR": "app.kubernetes.io/name=postgresql",
		"CHAOS_K8S_FRAUD_SELECTOR":    "app.kubernetes.io/name=pokeflow,app.kubernetes.io/instance=rel,app.kubernetes.io/component=fraud",
		"CHAOS_K8S_UPDATER_SELECTOR":  "app.kubernetes.io/name=pokeflow,app.kubernetes.io/instance=rel,app.kubernetes.io/component=updater",
		"POKEFLOW_KAFKA_BROKERS":      "kafka:9092",
		"POKEFLOW_API_URL":            "http://rel-pokeflow-api:8000",
		"CHAOS_METRICS_URLS": "api=http://rel-pokeflow-api:9100/metrics,fraud=http://rel-pokeflow-fraud:9100/metrics," +
			"updater=http://rel-pokeflow-updater:9100/metrics,reverser=http://rel-pokeflow-reverser:9100/metrics",
		"CHAOS_API_METRICS_URL":     "http://rel-pokeflow-api:9100/metrics",
		"POKEFLOW_ORDERS_TOPIC":     "poke-orders",
		"POKEFLOW_STATES_TOPIC":     "poke-orders-state",
		"POKEFLOW_DLQ_TOPIC":        "poke-orders-dlq",
		"POKEFLOW_FRAUD_GROUP":      "poke-order-consumer",
		"POKEFLOW_UPDATER_GROUP":    "order-updater",
		"POKEFLOW_PG_HOST":          "postgresql",
		"POKEFLOW_PG_PORT":          "5432",
		"POKEFLOW_PG_DATABASE":      "poke_orders",
		"POKEFLOW_PG_USER":          "poke_user",
		"POKEFLOW_REVERSER_TIMEOUT": "30m",
		"POKEFLOW_CONFIG":           "/etc/pokeflow/pokeflow.ini",
		"CHAOS_TOLERANCE":           "0",
	})
	if e := env["CHAOS_K8S_NAMESPACE"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("CHAOS_K8S_NAMESPACE must be the pod's namespace, got %+v", e)
	}
	if e := env["POKEFLOW_PG_PASSWORD"]; e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
		e.ValueFrom.SecretKeyRef.Name != "rel-pokeflow-secret" || e.ValueFrom.SecretKeyRef.Key != "pg-password" {
		t.Errorf("POKEFLOW_PG_PASSWORD must come from the release's Secret, got %+v", e)
	}
	for _, old := range []string{"POKEFLOW_CHAOS_TARGET", "POKEFLOW_NAMESPACE", "POKEFLOW_RELEASE", "POKEFLOW_POD_SELECTOR", "KAFKA_BOOTSTRAP_SERVERS"} {
		if _, ok := env[old]; ok {
			t.Errorf("chaos job sets %s, which nothing reads", old)
		}
	}
	// The fraud and updater selectors must pick exactly the release's role pods.
	for role, sel := range map[string]string{"fraud": env["CHAOS_K8S_FRAUD_SELECTOR"].Value, "updater": env["CHAOS_K8S_UPDATER_SELECTOR"].Value} {
		for _, d := range all[appsv1.Deployment](objs) {
			matches := true
			for _, kv := range strings.Split(sel, ",") {
				k, v, _ := strings.Cut(kv, "=")
				matches = matches && d.Spec.Template.Labels[k] == v
			}
			if matches != (d.Name == "rel-pokeflow-"+role) {
				t.Errorf("selector %q matches deployment %s: %v", sel, d.Name, matches)
			}
		}
	}
}

// Toxiproxy in front of PostgreSQL for chaos/k8s/07 and 08: the roles' database traffic goes
// through it, the chaos Job drives its API and verifies against PostgreSQL directly, and the
// migration hook (which runs before the proxy exists) connects directly too.
func TestChaosToxiproxy(t *testing.T) {
	objs := render(t, "chaos-toxiproxy.yaml")
	if len(all[corev1.Service](objs)) == 0 {
		t.Fatal("no Services rendered")
	}
	d := byName[appsv1.Deployment](t, objs, "rel-pokeflow-toxiproxy")
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != "pokeflow-chaos:0.1.0" || !slices.Equal(c.Command, []string{"/usr/local/bin/toxiproxy-server"}) {
		t.Errorf("toxiproxy runs toxiproxy-server from the chaos image, got %s %v", c.Image, c.Command)
	}
	if !slices.Equal(c.Args, []string{"-host", "0.0.0.0", "-port", "8474", "-config", "/etc/toxiproxy/proxies.json"}) {
		t.Errorf("toxiproxy args: %v", c.Args)
	}
	if *d.Spec.Replicas != 1 || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/version" {
		t.Errorf("toxiproxy: one replica, ready when its API answers")
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("toxiproxy must have a read-only root filesystem")
	}
	cm := byName[corev1.ConfigMap](t, objs, "rel-pokeflow-toxiproxy")
	if want := `"listen": "0.0.0.0:6432", "upstream": "pg.db:6432"`; !strings.Contains(cm.Data["proxies.json"], want) {
		t.Errorf("proxies.json must proxy PostgreSQL (%s): %s", want, cm.Data["proxies.json"])
	}
	svc := byName[corev1.Service](t, objs, "rel-pokeflow-toxiproxy")
	ports := map[string]int32{}
	for _, p := range svc.Spec.Ports {
		ports[p.Name] = p.Port
	}
	if ports["api"] != 8474 || ports["pg"] != 6432 {
		t.Errorf("toxiproxy Service ports: %v", ports)
	}
	for _, role := range roles {
		rc := byName[appsv1.Deployment](t, objs, "rel-pokeflow-"+role).Spec.Template.Spec.Containers[0]
		if e, _ := envOf(rc, "POKEFLOW_PG_HOST"); e.Value != "rel-pokeflow-toxiproxy" {
			t.Errorf("%s must reach PostgreSQL through Toxiproxy, POKEFLOW_PG_HOST = %q", role, e.Value)
		}
	}
	for _, j := range all[batchv1.Job](objs) {
		if j.Name == "rel-pokeflow-hook" {
			if e, i := envOf(j.Spec.Template.Spec.Containers[0], "POKEFLOW_PG_HOST"); i >= 0 {
				t.Errorf("the migration hook runs before Toxiproxy exists: it must connect directly, got %q", e.Value)
			}
		}
	}
	_, env := chaosContainer(t, objs, "rel-pokeflow-chaos-1")
	wantEnv(t, env, map[string]string{
		"CHAOS_TOXIPROXY_HOST": "rel-pokeflow-toxiproxy",
		"CHAOS_TOXIPROXY_PORT": "8474",
		"POKEFLOW_PG_HOST":     "pg.db", // verify reads the database itself, not through the fault
		"EXPERIMENTS":          "08-postgres-blackhole.yaml 07-postgres-latency.yaml",
	})
	exp := byName[corev1.ConfigMap](t, objs, "rel-pokeflow-chaos-experiments")
	for _, f := range []string{"07-postgres-latency.yaml", "08-postgres-blackhole.yaml"} {
		want, _ := os.ReadFile(filepath.Join("../../chaos/k8s", f))
		if len(want) == 0 || strings.TrimSpace(exp.Data[f]) != strings.TrimSpace(string(want)) {
			t.Errorf("%s must be packaged verbatim when chaos.toxiproxy.enabled", f)
		}
		if !strings.Contains(exp.Data[f], "chaostoxi.") || strings.Contains(exp.Data[f], "127.0.0.1") {
			t.Errorf("%s: not a Kubernetes Toxiproxy variant", f)
		}
	}
	// Off by default: no proxy, no rerouting.
	for _, o := range render(t, "chaos.yaml") {
		if m, ok := o.Obj.(metav1.Object); ok && strings.Contains(m.GetName(), "toxiproxy") {
			t.Errorf("toxiproxy rendered without chaos.toxiproxy.enabled: %s", m.GetName())
		}
	}
}

func TestChaosFollowsReleaseValues(t *testing.T) {
	objs := render(t, "chaos-custom.yaml")
	c, env := chaosContainer(t, objs, "shop-chaos-1")
	wantEnv(t, env, map[string]string{
		"CHAOS_K8S_KAFKA_SELECTOR":    "app=kafka,tier=broker",
		"CHAOS_K8S_POSTGRES_SELECTOR": "cluster-name=orders-pg",
		"CHAOS_K8S_FRAUD_SELECTOR":    "app.kubernetes.io/name=pokeflow,app.kubernetes.io/instance=rel,app.kubernetes.io/component=fraud",
		"POKEFLOW_KAFKA_BROKERS":      "kafka-0.kafka:9092,kafka-1.kafka:9092",
		"POKEFLOW_API_URL":            "http://shop-api:8080",
		// reverser disabled: no Service to scrape
		"CHAOS_METRICS_URLS":        "api=http://shop-api:9200/metrics,fraud=http://shop-fraud:9200/metrics,updater=http://shop-updater:9200/metrics",
		"CHAOS_API_METRICS_URL":     "http://shop-api:9200/metrics",
		"POKEFLOW_ORDERS_TOPIC":     "o",
		"POKEFLOW_STATES_TOPIC":     "s",
		"POKEFLOW_DLQ_TOPIC":        "d",
		"POKEFLOW_FRAUD_GROUP":      "fraud-g",
		"POKEFLOW_UPDATER_GROUP":    "updater-g",
		"POKEFLOW_PG_HOST":          "pg.db",
		"POKEFLOW_PG_PORT":          "6432",
		"POKEFLOW_PG_DATABASE":      "orders",
		"POKEFLOW_PG_USER":          "shop",
		"POKEFLOW_REVERSER_TIMEOUT": "45m",
		"EXPERIMENTS":               "04-two-brokers-down.yaml 02-broker-reboot.yaml",
		"CHAOS_LOAD_RATE":           "40",
	})
	// Every experiment chosen must be packaged, or the Job would only find out in the cluster.
	cm := byName[corev1.ConfigMap](t, objs, "shop-chaos-experiments")
	for _, e := range strings.Fields(env["EXPERIMENTS"].Value) {
		if _, ok := cm.Data[e]; !ok {
			t.Errorf("chaos.experiments names %s, not in the ConfigMap", e)
		}
	}
	if c.Image != "pokeflow-chaos:0.1.0" {
		t.Errorf("chaos image defaults to pokeflow-chaos:<appVersion>, got %s", c.Image)
	}
}

func TestSASL(t *testing.T) {
	objs := render(t, "sasl.yaml")
	sec := byName[corev1.Secret](t, objs, "rel-pokeflow-secret")
	if len(sec.Data["kafka-sasl-password"]) == 0 {
		t.Errorf("secret lacks kafka-sasl-password")
	}
	for _, d := range all[appsv1.Deployment](objs) {
		c := d.Spec.Template.Spec.Containers[0]
		prop, pi := envOf(c, "POKEFLOW_KAFKA_PROPERTY")
		pw, wi := envOf(c, "KAFKA_SASL_PASSWORD")
		if pi < 0 || wi < 0 || wi > pi {
			// Kubernetes expands $(VAR) only from variables defined earlier in the list.
			t.Errorf("%s: KAFKA_SASL_PASSWORD must be defined before POKEFLOW_KAFKA_PROPERTY", d.Name)
			continue
		}
		if pw.ValueFrom == nil || pw.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s: SASL password must come from the Secret", d.Name)
		}
		for _, want := range []string{"security.protocol=SASL_SSL", "sasl.mechanism=SCRAM-SHA-512", "sasl.password=$(KAFKA_SASL_PASSWORD)"} {
			if !strings.Contains(prop.Value, want) {
				t.Errorf("%s: POKEFLOW_KAFKA_PROPERTY %q lacks %s", d.Name, prop.Value, want)
			}
		}
		if strings.Contains(prop.Value, "s3cret") {
			t.Errorf("%s: the SASL password leaked into a plain env value", d.Name)
		}
	}
}

func TestLoadgenJob(t *testing.T) {
	objs := render(t, "loadgen-job.yaml")
	job := byName[batchv1.Job](t, objs, "rel-pokeflow-loadgen-1")
	c := job.Spec.Template.Spec.Containers[0]
	for _, a := range []string{"--role=loadgen", "--users=5", "--orders-per-user=1000", "--delay=2s", "--user-ids=1,2,3,4,5"} {
		if !slices.Contains(c.Args, a) {
			t.Errorf("loadgen job args %v lack %s", c.Args, a)
		}
	}
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("loadgen job must not restart")
	}
	for _, d := range all[appsv1.Deployment](objs) {
		if strings.HasSuffix(d.Name, "-loadgen") {
			t.Errorf("loadgen as Job must not also be a Deployment")
		}
	}
}

// The decoder must really be strict, or every test above proves less than it claims.
func TestStrictDecodingRejectsMistakes(t *testing.T) {
	cases := map[string]string{
		"testdata/misspelt-field.yaml":   `unknown field "spec.template.spec.containers[0].imagePullPolicyy"`,
		"testdata/misplaced-field.yaml":  `unknown field "spec.replica"`,
		"testdata/unknown-kind.yaml":     `no kind "Deploymnt" is registered`,
		"testdata/wrong-type.yaml":       `spec.replicas`,
		"testdata/duplicate-field.yaml":  `key "replicas" already set`,
		"testdata/valid-deployment.yaml": "",
	}
	for file, want := range cases {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, err = DecodeStrict(data)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: valid manifest rejected: %v", file, err)
		case want != "" && err == nil:
			t.Errorf("%s: accepted, but must fail with %s", file, want)
		case want != "" && !strings.Contains(err.Error(), want):
			t.Errorf("%s: error %q does not mention %s", file, err, want)
		}
	}
}

var wantRe = regexp.MustCompile(`(?m)^# want: (.+)$`)

// Every file in values/bad must make helm refuse to render, with the message it names.
func TestBadValuesRejected(t *testing.T) {
	files, _ := filepath.Glob("values/bad/*.yaml")
	if len(files) < 5 {
		t.Fatalf("expected the negative cases of values/bad, found %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			m := wantRe.FindSubmatch(data)
			if m == nil {
				t.Fatalf("%s has no '# want: <message>' line", f)
			}
			out, errOut, ok := helm(t, "template", "rel", chart, "-f", f)
			if ok {
				t.Fatalf("helm accepted %s:\n%s", f, out)
			}
			if !strings.Contains(errOut, string(m[1])) {
				t.Errorf("helm's error does not mention %q:\n%s", m[1], errOut)
			}
		})
	}
}

// kafka.partitions reaches the hook's init and grow; every role's replicaCount reaches its
// Deployment (scripts/chart-local-run.sh runs this file as processes).
func TestScaledWithPartitions(t *testing.T) {
	objs := render(t, "local.yaml", "scale-local.yaml")
	ps := byName[batchv1.Job](t, objs, "pokeflow-hook").Spec.Template.Spec
	if len(ps.InitContainers) != 2 || !slices.Contains(ps.InitContainers[1].Args, "--partitions=6") {
		t.Errorf("hook topics init must get --partitions=6, got %+v", ps.InitContainers)
	}
	if len(ps.Containers) != 1 || !slices.Equal(ps.Containers[0].Args, []string{"topics", "grow", "--partitions=6"}) {
		t.Errorf("hook must grow to 6 partitions, got %+v", ps.Containers)
	}
	for role, want := range map[string]int32{"api": 2, "fraud": 3, "updater": 3, "reverser": 2} {
		d := byName[appsv1.Deployment](t, objs, "pokeflow-"+role)
		if d.Spec.Replicas == nil || *d.Spec.Replicas != want {
			t.Errorf("%s: want %d replicas, got %v", d.Name, want, d.Spec.Replicas)
		}
	}
}
