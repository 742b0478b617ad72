package main

import (
	"fmt"
	"strings"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	nodelease "sigs.k8s.io/kwok/kustomize/stage/node/heartbeat-with-lease"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
)

// kwokStages returns the Stage documents the box's kwok plays: kwok's own "fast" node and pod
// lifecycles (the ones kwokctl installs; the kwok binary alone ships none), plus one stage of
// ours: a helm test pod (annotation helm.sh/hook: test) completes as a Job's pod does, so that
// `helm test` sees its pod succeed. Fails if kwok's pod-complete stage no longer has the
// selector line it is derived from.
func kwokStages() (string, error) {
	const jobSelector = `    - key: '.metadata.ownerReferences.[].kind'
      operator: 'In'
      values:
      - 'Job'
`
	const testSelector = `    - key: '.metadata.annotations["helm.sh/hook"]'
      operator: 'In'
      values:
      - 'test'
`
	if strings.Count(podfast.DefaultPodComplete, jobSelector) != 1 ||
		strings.Count(podfast.DefaultPodComplete, "name: pod-complete\n") != 1 {
		return "", fmt.Errorf("kwok's pod-complete stage changed shape; update kubebox's stages.go")
	}
	helmTest := strings.Replace(podfast.DefaultPodComplete, jobSelector, testSelector, 1)
	helmTest = strings.Replace(helmTest, "name: pod-complete\n", "name: pod-complete-helm-test\n", 1)

	docs := []string{
		nodefast.DefaultNodeInit,
		nodelease.DefaultNodeHeartbeatWithLease,
		podfast.DefaultPodReady,
		podfast.DefaultPodComplete,
		helmTest,
		podfast.DefaultPodDelete,
	}
	for i, d := range docs {
		docs[i] = strings.TrimSpace(d) + "\n"
	}
	return strings.Join(docs, "---\n"), nil
}
