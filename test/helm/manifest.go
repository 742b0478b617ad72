// Package helmcheck decodes rendered Helm output strictly against the real Kubernetes API
// types, so a misspelt or misplaced field fails here instead of being dropped by the cluster.
package helmcheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	serjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Object is one decoded manifest with where it came from.
type Object struct {
	Source string // "# Source:" comment helm writes, or "document N"
	GVK    schema.GroupVersionKind
	Obj    runtime.Object
}

// Scheme knows every kind the chart may render; anything else is an error.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		autoscalingv2.AddToScheme, policyv1.AddToScheme, rbacv1.AddToScheme,
		monitoringv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// DecodeStrict splits a multi-document YAML stream and decodes every non-empty document.
// It fails on unknown or duplicate fields, wrong types and unregistered kinds.
func DecodeStrict(manifest []byte) ([]Object, error) {
	sch := Scheme()
	ser := serjson.NewSerializerWithOptions(serjson.DefaultMetaFactory, sch, sch,
		serjson.SerializerOptions{Yaml: true, Strict: true})
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	var objs []Object
	var errs []error
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		source := fmt.Sprintf("document %d", n)
		empty := true
		for _, line := range strings.Split(string(doc), "\n") {
			t := strings.TrimSpace(line)
			if strings.HasPrefix(t, "# Source: ") {
				source = strings.TrimPrefix(t, "# Source: ")
			}
			if t != "" && t != "---" && !strings.HasPrefix(t, "#") {
				empty = false
			}
		}
		if empty {
			continue
		}
		obj, gvk, err := ser.Decode(doc, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
			continue
		}
		objs = append(objs, Object{Source: source, GVK: *gvk, Obj: obj})
	}
	return objs, errors.Join(errs...)
}
