// Command localrun turns a rendered pokeflow chart into a plan for running the same processes
// on this machine (scripts/chart-local-run.sh runs it): every Deployment, the hook Job and the
// loadgen Job become local commands with the exact args and env the chart gives the pods, with
// Service and broker host names mapped to 127.0.0.1, the ConfigMap written to files, Secret
// references resolved from the rendered Secret, $(VAR) references expanded as the kubelet does,
// and a distinct admin port per process.
//
// A Deployment becomes as many processes as its replicas (or its HPA's minReplicas), named
// <deployment>-<i> when there are several. Several api replicas each listen on a port of their
// own (-api-base + i) and the plan adds a "service" line: a round-robin (cmd/roundrobin) on the
// Service's port stands in for the Service, so the updater and loadgen reach every replica
// through the one address the chart gives them, as in a cluster.
//
// Usage: localrun -manifest FILE -out DIR -admin-base PORT [-api-base PORT]
// Writes DIR/etc-pokeflow/<configmap keys>, DIR/plan.tsv ("kind name admin_port ready_path" per
// process, in start order: hook steps first; "service name listen_port backend_ports" per
// balanced Service) and per process DIR/<name>.args and DIR/<name>.env (NUL-separated).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	helmcheck "pokeflow/test/helm"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

func die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "localrun: "+format+"\n", a...)
	os.Exit(1)
}

type planner struct {
	out       string
	services  []string
	secrets   map[string]map[string][]byte
	configDir string
	plan      strings.Builder
	nextAdmin int
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// local rewrites what only exists in a cluster: Service host names, the ConfigMap mount, 0.0.0.0.
func (p *planner) local(s string) string {
	s = strings.ReplaceAll(s, "/etc/pokeflow/", p.configDir+"/")
	s = strings.ReplaceAll(s, "0.0.0.0", "127.0.0.1")
	for _, svc := range p.services {
		s = strings.ReplaceAll(s, "//"+svc+":", "//127.0.0.1:")
	}
	return s
}

// iniLocal maps the hosts of pokeflow.ini's connection settings to 127.0.0.1, keeping ports.
func (p *planner) iniLocal(ini string) string {
	var lines []string
	for _, line := range strings.Split(ini, "\n") {
		k, v, ok := strings.Cut(line, "=")
		key := strings.TrimSpace(k)
		if ok && !strings.HasPrefix(key, "#") {
			v = strings.TrimSpace(v)
			switch key {
			case "pg-host":
				v = "127.0.0.1"
			case "kafka-brokers":
				var bs []string
				for _, b := range strings.Split(v, ",") {
					i := strings.LastIndex(b, ":")
					if i < 0 {
						die("kafka-brokers entry %q has no port", b)
					}
					bs = append(bs, "127.0.0.1"+b[i:])
				}
				v = strings.Join(bs, ",")
			}
			line = key + " = " + p.local(v)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func (p *planner) env(owner string, c corev1.Container) []string {
	if len(c.EnvFrom) > 0 {
		die("%s: envFrom is not supported by the local run", owner)
	}
	vals := map[string]string{}
	var env []string
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			ref := e.ValueFrom.SecretKeyRef
			if ref == nil {
				die("%s: env %s: only secretKeyRef is supported", owner, e.Name)
			}
			data, ok := p.secrets[ref.Name][ref.Key]
			if !ok {
				if ref.Optional != nil && *ref.Optional {
					continue
				}
				die("%s: env %s needs secret %s key %s, which the chart did not render "+
					"(an existingSecret cannot be run locally)", owner, e.Name, ref.Name, ref.Key)
			}
			v = string(data)
		} else {
			v = varRef.ReplaceAllStringFunc(v, func(m string) string {
				if x, ok := vals[m[2:len(m)-1]]; ok {
					return x
				}
				return m // the kubelet leaves unknown references as they are
			})
			v = p.local(v)
		}
		vals[e.Name] = v
		env = append(env, e.Name+"="+v)
	}
	return env
}

func writeNul(path string, items []string) {
	var b strings.Builder
	for _, s := range items {
		b.WriteString(s)
		b.WriteByte(0)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		die("%v", err)
	}
}

func (p *planner) add(kind, name string, c corev1.Container, ready bool) {
	p.addWithPort(kind, name, c, ready, 0)
}

// addWithPort is add, with the process's --api-port replaced by apiPort when it is not 0.
func (p *planner) addWithPort(kind, name string, c corev1.Container, ready bool, apiPort int) {
	if len(c.Command) > 0 {
		die("%s: a command override is not supported (the image's entrypoint is pokeflow)", name)
	}
	args := make([]string, 0, len(c.Args)+2)
	replaced := false
	for _, a := range c.Args {
		if apiPort != 0 && strings.HasPrefix(a, "--api-port=") {
			a, replaced = fmt.Sprintf("--api-port=%d", apiPort), true
		}
		args = append(args, p.local(a))
	}
	if apiPort != 0 && !replaced {
		die("%s: no --api-port argument to give the replica its own port", name)
	}
	admin, readyPath := 0, "-"
	if ready {
		admin = p.nextAdmin
		p.nextAdmin++
		args = append(args, fmt.Sprintf("--admin-port=%d", admin))
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil {
			die("%s has no HTTP readiness probe", name)
		}
		readyPath = c.ReadinessProbe.HTTPGet.Path
	}
	writeNul(filepath.Join(p.out, name+".args"), args)
	writeNul(filepath.Join(p.out, name+".env"), p.env(name, c))
	fmt.Fprintf(&p.plan, "%s\t%s\t%d\t%s\n", kind, name, admin, readyPath)
}

func main() {
	manifest := flag.String("manifest", "", "rendered chart (helm template output)")
	out := flag.String("out", "", "directory for the plan")
	adminBase := flag.Int("admin-base", 19400, "first admin port")
	apiBase := flag.Int("api-base", 19500, "first api port when the api has several replicas")
	flag.Parse()
	if *manifest == "" || *out == "" {
		die("usage: localrun -manifest FILE -out DIR [-admin-base PORT]")
	}
	data, err := os.ReadFile(*manifest)
	if err != nil {
		die("%v", err)
	}
	objs, err := helmcheck.DecodeStrict(data)
	if err != nil {
		die("the rendered chart does not decode strictly:\n%v", err)
	}
	p := &planner{out: *out, secrets: map[string]map[string][]byte{}, nextAdmin: *adminBase,
		configDir: filepath.Join(*out, "etc-pokeflow")}
	if err := os.MkdirAll(p.configDir, 0o755); err != nil {
		die("%v", err)
	}
	var deployments []*appsv1.Deployment
	var hook, loadgen *batchv1.Job
	minReplicas := map[string]int{} // Deployment name -> its HPA's minReplicas
	var config *corev1.ConfigMap
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *corev1.Service:
			p.services = append(p.services, v.Name)
		case *corev1.Secret:
			p.secrets[v.Name] = v.Data
		case *corev1.ConfigMap:
			if strings.HasSuffix(v.Name, "-config") {
				config = v
			}
		case *appsv1.Deployment:
			deployments = append(deployments, v)
		case *autoscalingv2.HorizontalPodAutoscaler:
			n := 1
			if v.Spec.MinReplicas != nil {
				n = int(*v.Spec.MinReplicas)
			}
			minReplicas[v.Spec.ScaleTargetRef.Name] = n
		case *batchv1.Job:
			switch v.Labels["app.kubernetes.io/component"] {
			case "hook":
				hook = v
			case "loadgen":
				loadgen = v
			}
		}
	}
	if config == nil {
		die("the chart rendered no <release>-config ConfigMap")
	}
	for key, val := range config.Data {
		if key == "pokeflow.ini" {
			val = p.iniLocal(val)
		}
		if err := os.WriteFile(filepath.Join(p.configDir, key), []byte(val), 0o644); err != nil {
			die("%v", err)
		}
	}
	if hook == nil {
		die("the chart rendered no hook Job (hooks.enabled=false?)")
	}
	// The hook's own ConfigMap is rendered from the same helper as the release's, so the
	// release's files stand in for it.
	hs := hook.Spec.Template.Spec
	for _, c := range append(append([]corev1.Container{}, hs.InitContainers...), hs.Containers...) {
		p.add("hook", "hook-"+c.Name, c, false)
	}
	nextAPI := *apiBase
	for _, d := range deployments {
		cs := d.Spec.Template.Spec.Containers
		if len(cs) != 1 {
			die("%s: expected one container", d.Name)
		}
		replicas := 1
		if d.Spec.Replicas != nil {
			replicas = int(*d.Spec.Replicas)
		} else if n, ok := minReplicas[d.Name]; ok {
			replicas = n
		}
		if replicas == 1 {
			p.add("deployment", d.Name, cs[0], true)
			continue
		}
		isAPI := d.Labels["app.kubernetes.io/component"] == "api"
		var backends []string
		for i := 0; i < replicas; i++ {
			port := 0
			if isAPI {
				port = nextAPI
				nextAPI++
				backends = append(backends, fmt.Sprint(port))
			}
			p.addWithPort("deployment", fmt.Sprintf("%s-%d", d.Name, i), cs[0], true, port)
		}
		if isAPI {
			svcPort := 0
			for _, cp := range cs[0].Ports {
				if cp.Name == "http" {
					svcPort = int(cp.ContainerPort)
				}
			}
			if svcPort == 0 {
				die("%s: no container port named http for the Service", d.Name)
			}
			fmt.Fprintf(&p.plan, "service\t%s\t%d\t%s\n", d.Name, svcPort, strings.Join(backends, ","))
		}
	}
	if loadgen != nil {
		p.add("job", loadgen.Name, loadgen.Spec.Template.Spec.Containers[0], true)
	}
	if err := os.WriteFile(filepath.Join(*out, "plan.tsv"), []byte(p.plan.String()), 0o644); err != nil {
		die("%v", err)
	}
}
