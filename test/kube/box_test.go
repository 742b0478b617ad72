// Package kube tests the chart on a real Kubernetes API server: the box of scripts/kube.sh
// (kube-apiserver, controller-manager, scheduler, etcd, kwok nodes). Run by test/kube/run.sh,
// which builds and starts the box and sets KUBECONFIG, KUBEBOX, HELM and CHAOS_PYTHON.
//
// Pods are kwok's: they are scheduled and get a status but run no process, so these tests
// assert what the API does (admission, controllers, helm's hooks and waits, RBAC), and the
// chart-driven local run (scripts/chart-local-run.sh) proves the processes.
package kube

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	release = "pf"
	full    = "pf-pokeflow"
	chart   = "../../helm/pokeflow"
	values  = "values/box.yaml"
)

var (
	ns      = envOr("POKEFLOW_KUBE_NAMESPACE", "pokeflow")
	roles   = []string{"api", "fraud", "updater", "reverser", "loadgen"}
	chaosSA = full + "-chaos"
)

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func TestMain(m *testing.M) {
	for _, v := range []string{"KUBECONFIG", "KUBEBOX", "HELM", "CHAOS_PYTHON"} {
		if os.Getenv(v) == "" {
			fmt.Fprintf(os.Stderr, "%s is not set: run test/kube/run.sh, which builds and starts the box\n", v)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// run runs a program and returns stdout, stderr and its error.
func run(t *testing.T, env []string, name string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func helm(t *testing.T, args ...string) (string, string) {
	t.Helper()
	args = append(args, "--namespace", ns)
	out, errOut, err := run(t, nil, os.Getenv("HELM"), args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out, errOut
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"kubectl", "--namespace", ns}, args...)
	out, errOut, err := run(t, nil, os.Getenv("KUBEBOX"), args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func restConfig(t *testing.T) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		t.Fatalf("KUBECONFIG: %v", err)
	}
	return cfg
}

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	c, err := kubernetes.NewForConfig(restConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eventually polls cond every 300 ms until it returns "" (done) or the timeout passes, then
// fails with the last reason it gave.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %s", what, timeout, why)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

var ctx = context.Background()

func roleSelector(role string) string {
	return fmt.Sprintf("app.kubernetes.io/instance=%s,app.kubernetes.io/component=%s", release, role)
}

// livePods lists the pods matching selector that are not being deleted.
func livePods(t *testing.T, c *kubernetes.Clientset, selector string) []corev1.Pod {
	t.Helper()
	l, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var r []corev1.Pod
	for _, p := range l.Items {
		if p.DeletionTimestamp == nil {
			r = append(r, p)
		}
	}
	return r
}

func podReady(p corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName == "" {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// deploymentFollows waits until the Deployment of role wants n replicas and its current
// ReplicaSet and pods (scheduled on a kwok node, Running, Ready) follow.
func deploymentFollows(t *testing.T, c *kubernetes.Clientset, role string, n int32) {
	t.Helper()
	name := full + "-" + role
	eventually(t, 90*time.Second, fmt.Sprintf("%s at %d replicas", name, n), func() string {
		d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != n {
			return fmt.Sprintf("spec.replicas %v", d.Spec.Replicas)
		}
		if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas != n ||
			d.Status.ReadyReplicas != n || d.Status.Replicas != n {
			return fmt.Sprintf("status %+v", d.Status)
		}
		rss, err := c.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: roleSelector(role)})
		if err != nil {
			return err.Error()
		}
		var active []appsv1.ReplicaSet
		for _, rs := range rss.Items {
			if rs.Spec.Replicas != nil && *rs.Spec.Replicas > 0 {
				active = append(active, rs)
			}
		}
		if len(active) != 1 || active[0].Status.ReadyReplicas != n || *active[0].Spec.Replicas != n {
			return fmt.Sprintf("%d ReplicaSets with replicas > 0", len(active))
		}
		if !metav1.IsControlledBy(&active[0], d) {
			return "ReplicaSet not controlled by the Deployment"
		}
		pods := livePods(t, c, roleSelector(role))
		ready := 0
		for _, p := range pods {
			if podReady(p) && metav1.IsControlledBy(&p, &active[0]) && strings.HasPrefix(p.Spec.NodeName, "kwok-node-") {
				ready++
			}
		}
		if len(pods) != int(n) || ready != int(n) {
			return fmt.Sprintf("%d pods, %d ready on kwok nodes", len(pods), ready)
		}
		return ""
	})
}

// hookRuns counts the hook Jobs (each run is a new Job object) that completed.
func hookRuns(t *testing.T, c *kubernetes.Clientset) int {
	t.Helper()
	evs, err := c.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=Job,involvedObject.name=" + full + "-hook,reason=Completed"})
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]bool{}
	for _, e := range evs.Items {
		uids[string(e.InvolvedObject.UID)] = true
	}
	return len(uids)
}

func revision(t *testing.T) (int, string) {
	t.Helper()
	out, _ := helm(t, "status", release, "-o", "json")
	var st struct {
		Version int `json:"version"`
		Info    struct {
			Status string `json:"status"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("helm status: %v\n%s", err, out)
	}
	return st.Version, st.Info.Status
}

func replicas(t *testing.T, c *kubernetes.Clientset, role string) int32 {
	t.Helper()
	d, err := c.AppsV1().Deployments(ns).Get(ctx, full+"-"+role, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

// noPodSecurityWarnings fails on an API server warning that a pod template breaks the
// namespace's restricted level (the namespace also has warn=restricted).
func noPodSecurityWarnings(t *testing.T, what, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "PodSecurity") {
		t.Errorf("%s: Pod Security warnings:\n%s", what, stderr)
	}
}

func TestBox(t *testing.T) {
	c := clientset(t)
	step := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	step("namespace enforces restricted", func(t *testing.T) {
		nsObj, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := nsObj.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
			t.Fatalf("namespace %s enforce level %q", ns, got)
		}
		// A pod that only the baseline level allows (runs as root, no seccomp profile) is refused.
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "not-restricted"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}
		_, err = c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `violates PodSecurity "restricted`) {
			t.Fatalf("a pod breaking the restricted level was not refused: %v", err)
		}
	})

	step("stand-in Kafka and PostgreSQL pods for the chaos experiments", func(t *testing.T) {
		kubectl(t, "apply", "-f", "testdata/standins.yaml")
		for sel, n := range map[string]int{"app.kubernetes.io/name=kafka": 3, "app.kubernetes.io/name=postgresql": 1} {
			eventually(t, 60*time.Second, sel, func() string {
				ready := 0
				for _, p := range livePods(t, c, sel) {
					if podReady(p) {
						ready++
					}
				}
				if ready != n {
					return fmt.Sprintf("%d of %d ready", ready, n)
				}
				return ""
			})
		}
	})

	step("helm install with hooks", func(t *testing.T) {
		out, errOut := helm(t, "install", release, chart, "-f", values, "--wait", "--timeout", "5m")
		noPodSecurityWarnings(t, "install", errOut)
		if v, st := revision(t); v != 1 || st != "deployed" {
			t.Fatalf("after install: revision %d %s", v, st)
		}
		// The pre-install hook Job (migrate, then topics init) completed under kwok, and
		// helm deleted it (hook-succeeded).
		if n := hookRuns(t, c); n != 1 {
			t.Errorf("want 1 completed hook Job, events show %d", n)
		}
		if _, err := c.BatchV1().Jobs(ns).Get(ctx, full+"-hook", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("hook Job not deleted after success: %v", err)
		}
		// No Prometheus Operator CRD in the box: the chart leaves the ServiceMonitor out and
		// says so.
		if !strings.Contains(out, "does not serve\nmonitoring.coreos.com/v1 ServiceMonitor") {
			t.Errorf("install notes do not say the ServiceMonitor was left out:\n%s", out)
		}
	})

	step("every role runs, every pod admitted by restricted", func(t *testing.T) {
		for _, role := range roles {
			deploymentFollows(t, c, role, replicas(t, c, role))
		}
		// The chaos Job's pod ran (kwok completes a Job's pods).
		eventually(t, 60*time.Second, "chaos Job complete", func() string {
			j, err := c.BatchV1().Jobs(ns).Get(ctx, chaosSA+"-1", metav1.GetOptions{})
			if err != nil {
				return err.Error()
			}
			if j.Status.Succeeded != 1 {
				return fmt.Sprintf("status %+v", j.Status)
			}
			return ""
		})
		// Nothing the release made was refused: no FailedCreate from a controller.
		evs, err := c.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedCreate"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			t.Errorf("%s %s: %s", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message)
		}
	})

	step("HPA and PDB accepted and observed", func(t *testing.T) {
		hpa, err := c.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, full+"-api", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if hpa.Spec.ScaleTargetRef.Name != full+"-api" || hpa.Spec.MaxReplicas != 5 {
			t.Errorf("api HPA: %+v", hpa.Spec)
		}
		for _, role := range []string{"api", "fraud"} {
			want := replicas(t, c, role)
			eventually(t, 60*time.Second, role+" PDB observed by the disruption controller", func() string {
				pdb, err := c.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, full+"-"+role, metav1.GetOptions{})
				if err != nil {
					return err.Error()
				}
				if pdb.Status.ExpectedPods != want || pdb.Status.CurrentHealthy != want {
					return fmt.Sprintf("status %+v", pdb.Status)
				}
				return ""
			})
		}
	})

	step("helm test", func(t *testing.T) {
		helm(t, "test", release, "--timeout", "2m")
		p, err := c.CoreV1().Pods(ns).Get(ctx, full+"-test-order", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("test pod %s", p.Status.Phase)
		}
	})

	fraudBefore := replicas(t, c, "fraud")
	step("helm upgrade runs the pre-upgrade hook and applies new values", func(t *testing.T) {
		_, errOut := helm(t, "upgrade", release, chart, "-f", values, "--set", "fraud.replicaCount=3", "--wait", "--timeout", "5m")
		noPodSecurityWarnings(t, "upgrade", errOut)
		if v, st := revision(t); v != 2 || st != "deployed" {
			t.Fatalf("after upgrade: revision %d %s", v, st)
		}
		if n := hookRuns(t, c); n != 2 {
			t.Errorf("want 2 completed hook Jobs (install, upgrade), events show %d", n)
		}
		deploymentFollows(t, c, "fraud", 3)
	})

	step("helm rollback", func(t *testing.T) {
		helm(t, "rollback", release, "1", "--wait", "--timeout", "5m")
		if v, st := revision(t); v != 3 || st != "deployed" {
			t.Fatalf("after rollback: revision %d %s", v, st)
		}
		deploymentFollows(t, c, "fraud", fraudBefore)
	})

	step("kubectl scale of each role", func(t *testing.T) {
		for _, role := range roles {
			n := replicas(t, c, role)
			for _, to := range []int32{n + 1, n} {
				kubectl(t, "scale", "deployment/"+full+"-"+role, "--replicas="+strconv.Itoa(int(to)))
				deploymentFollows(t, c, role, to)
			}
		}
	})

	step("ServiceMonitor once its CRD is served", func(t *testing.T) {
		kubectl(t, "apply", "-f", "testdata/servicemonitor-crd.yaml")
		kubectl(t, "wait", "--for=condition=Established", "crd/servicemonitors.monitoring.coreos.com", "--timeout=60s")
		out, _ := helm(t, "upgrade", release, chart, "-f", values, "--wait", "--timeout", "5m")
		if strings.Contains(out, "ServiceMonitor") {
			t.Errorf("notes still say the ServiceMonitor was left out:\n%s", out)
		}
		got := kubectl(t, "get", "servicemonitors", "-o", "jsonpath={.items[*].metadata.name}")
		if got != full {
			t.Errorf("ServiceMonitors: %q, want %q", got, full)
		}
	})

	step("chaos ServiceAccount may do what the experiments do, nothing more", func(t *testing.T) {
		checkChaosRBAC(t, c)
	})

	step("chaostoolkit-kubernetes activities of chaos/k8s against the box", func(t *testing.T) {
		runChaosActivities(t, c)
	})
}

// The Kubernetes calls of the packaged experiments and the API requests each makes: the
// chaos Role must allow exactly their union. An experiment calling anything else fails the
// chaos step below, and this table, the Role and the test must then grow together.
var chaosCalls = map[string][]authzv1.ResourceAttributes{
	"chaosk8s.pod.actions.terminate_pods": {{Verb: "list", Resource: "pods"}, {Verb: "delete", Resource: "pods"}},
	"pokeflow_chaos.k8s.wait_pods_ready":  {{Verb: "list", Resource: "pods"}},
}

func checkChaosRBAC(t *testing.T, c *kubernetes.Clientset) {
	user := "system:serviceaccount:" + ns + ":" + chaosSA
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
	can := func(a authzv1.ResourceAttributes) bool {
		t.Helper()
		sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User: user, Groups: groups, ResourceAttributes: &a}}
		r, err := c.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status.Allowed
	}
	needed := map[string]bool{}
	for call, reqs := range chaosCalls {
		for _, a := range reqs {
			a.Namespace = ns
			needed[a.Verb+" "+a.Resource] = true
			if !can(a) {
				t.Errorf("%s needs %s %s in %s: denied", call, a.Verb, a.Resource, ns)
			}
		}
	}
	// Nothing more: every other verb on pods, other namespaces, and what the issue feared an
	// experiment might do (scale, read logs, exec) are denied.
	denied := []authzv1.ResourceAttributes{
		{Namespace: "default", Verb: "list", Resource: "pods"},
		{Namespace: "kube-system", Verb: "delete", Resource: "pods"},
		{Verb: "list", Resource: "pods"}, // all namespaces
		{Namespace: ns, Verb: "get", Resource: "pods", Subresource: "log"},
		{Namespace: ns, Verb: "create", Resource: "pods", Subresource: "exec"},
		{Namespace: ns, Verb: "create", Resource: "pods", Subresource: "eviction"},
		{Namespace: ns, Verb: "patch", Group: "apps", Resource: "deployments", Subresource: "scale"},
		{Namespace: ns, Verb: "update", Group: "apps", Resource: "deployments", Subresource: "scale"},
		{Namespace: ns, Verb: "patch", Group: "apps", Resource: "statefulsets", Subresource: "scale"},
		{Namespace: ns, Verb: "delete", Group: "apps", Resource: "deployments"},
		{Namespace: ns, Verb: "get", Resource: "secrets"},
		{Namespace: ns, Verb: "list", Resource: "secrets"},
		{Namespace: ns, Verb: "create", Resource: "serviceaccounts", Subresource: "token"},
		{Namespace: ns, Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "rolebindings"},
		{Namespace: ns, Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "roles"},
		{Verb: "list", Resource: "nodes"},
	}
	for _, v := range []string{"get", "watch", "create", "update", "patch", "deletecollection"} {
		if !needed[v+" pods"] {
			denied = append(denied, authzv1.ResourceAttributes{Namespace: ns, Verb: v, Resource: "pods"})
		}
	}
	for _, a := range denied {
		if can(a) {
			t.Errorf("chaos ServiceAccount may %s %s/%s %s in %q: more than the experiments need",
				a.Verb, a.Group, a.Resource, a.Subresource, a.Namespace)
		}
	}
	// And the rules the API server reports for it in the namespace (impersonated) are exactly
	// those, beside what every authenticated user may do (self reviews, discovery).
	cfg := restConfig(t)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	as, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := as.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx,
		&authzv1.SelfSubjectRulesReview{Spec: authzv1.SelfSubjectRulesReviewSpec{Namespace: ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range rr.Status.ResourceRules {
		for _, g := range r.APIGroups {
			if g == "authorization.k8s.io" || g == "authentication.k8s.io" {
				continue // self{subjectaccess,rules}reviews and selfsubjectreviews: everyone's
			}
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					got[v+" "+res] = true
				}
			}
		}
	}
	gotList, wantList := keys(got), keys(needed)
	if !slices.Equal(gotList, wantList) {
		t.Errorf("chaos ServiceAccount's rules in %s: %v, the experiments need %v", ns, gotList, wantList)
	}
}

func keys(m map[string]bool) []string {
	r := make([]string, 0, len(m))
	for k := range m {
		r = append(r, k)
	}
	sort.Strings(r)
	return r
}

// runChaosActivities runs test/kube/chaos_k8s.py (chaostoolkit's own run_activity on every
// Kubernetes activity of chaos/k8s/*.yaml) as the chaos ServiceAccount, with the selectors
// and namespace the chart's Job gives the experiments, and checks what each did to the pods.
func runChaosActivities(t *testing.T, c *kubernetes.Clientset) {
	// A token of the chart's chaos ServiceAccount, as its Job's pod would mount.
	tr, err := c.CoreV1().ServiceAccounts(ns).CreateToken(ctx, chaosSA,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kc := filepath.Join(dir, "chaos-sa.kubeconfig")
	admin := restConfig(t)
	if err := os.WriteFile(kc, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: box, cluster: {server: %q, certificate-authority: %q}}]
users: [{name: chaos, user: {token: %q}}]
contexts: [{name: chaos, context: {cluster: box, user: chaos, namespace: %q}}]
current-context: chaos
`, admin.Host, admin.TLSClientConfig.CAFile, tr.Status.Token, ns)), 0o600); err != nil {
		t.Fatal(err)
	}

	// The experiments' environment, from the chaos Job the chart rendered.
	job, err := c.BatchV1().Jobs(ns).Get(ctx, chaosSA+"-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"KUBECONFIG=" + kc, "CHAOS_K8S_NAMESPACE=" + ns, "PYTHONPATH=../../chaos"}
	for _, e := range job.Spec.Template.Spec.Containers[0].Env {
		if strings.HasPrefix(e.Name, "CHAOS_K8S_") && e.ValueFrom == nil {
			env = append(env, e.Name+"="+e.Value)
		}
	}
	exps, _ := filepath.Glob("../../chaos/k8s/*.yaml")
	if len(exps) == 0 {
		t.Fatal("no chaos/k8s experiments")
	}
	out, errOut, err := run(t, env, os.Getenv("CHAOS_PYTHON"), append([]string{"chaos_k8s.py"}, exps...)...)
	if err != nil {
		t.Errorf("chaos_k8s.py: %v\n%s", err, tailLines(errOut, 30))
	}
	type line struct {
		Experiment, Activity, Call, Error string
		Arguments                         map[string]any
		Before, After                     []string
		Result                            map[string]any
	}
	calls := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("chaos_k8s.py printed %q: %v", sc.Text(), err)
		}
		what := l.Experiment + " " + l.Activity
		calls[l.Call]++
		if _, ok := chaosCalls[l.Call]; !ok {
			t.Errorf("%s calls %s, which the chaos Role and this test do not know", what, l.Call)
		}
		if l.Error != "" {
			t.Errorf("%s: %s", what, l.Error)
			continue
		}
		switch l.Call {
		case "chaosk8s.pod.actions.terminate_pods":
			if len(l.Before) == 0 {
				t.Errorf("%s: selector %v matched no pod", what, l.Arguments["label_selector"])
			}
			want := len(l.Before)
			if all, _ := l.Arguments["all"].(bool); !all {
				want = int(l.Arguments["qty"].(float64))
			}
			gone := 0
			for _, u := range l.Before {
				if !slices.Contains(l.After, u) {
					gone++
				}
			}
			if gone != want {
				t.Errorf("%s: %d of %d pods terminated, want %d", what, gone, len(l.Before), want)
			}
		case "pokeflow_chaos.k8s.wait_pods_ready":
			// Ready again: the controllers replaced what the previous action terminated.
			pods, _ := l.Result["pods"].([]any)
			if len(pods) == 0 || len(l.After) < len(pods) {
				t.Errorf("%s: %d pods ready, %d live after", what, len(pods), len(l.After))
			}
		}
		t.Logf("%s: %s ok (%d pods before, %d after)", what, l.Call, len(l.Before), len(l.After))
	}
	for call := range chaosCalls {
		if calls[call] == 0 {
			t.Errorf("no experiment ran %s", call)
		}
	}
	// The Deployments replaced every terminated pod.
	for _, role := range []string{"fraud", "updater"} {
		deploymentFollows(t, c, role, replicas(t, c, role))
	}
}

func ptr[T any](v T) *T { return &v }

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
