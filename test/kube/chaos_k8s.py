"""Runs the Kubernetes activities of chaos/k8s/*.yaml against the box, as the chart's chaos
ServiceAccount would (KUBECONFIG holds its token): every chaostoolkit-kubernetes action/probe
and every pokeflow_chaos.k8s probe, in experiment order, through chaoslib's own run_activity
with the experiment's configuration (so ${...} and the CHAOS_K8S_* environment resolve as in the
chart's Job). Kafka, PostgreSQL and HTTP activities are not run: the box's pods run nothing.

Prints one JSON object per line: {"experiment", "activity", "call", "before", "after", "result"}
with the uids of the selected pods before and after the activity; "error" on failure (and the
exit status is 1). Usage: python chaos_k8s.py EXPERIMENT.yaml...
"""
import json
import sys

import yaml
from chaoslib import substitute
from chaoslib.activity import get_all_activities_in_experiment, run_activity
from chaoslib.configuration import load_configuration
from chaosk8s import create_k8s_api_client
from kubernetes import client

KUBE_MODULES = ("chaosk8s", "pokeflow_chaos.k8s")


def uids(v1, ns, selector):
    pods = v1.list_namespaced_pod(ns, label_selector=selector).items
    return sorted(p.metadata.uid for p in pods if p.metadata.deletion_timestamp is None)


def main(paths):
    v1 = client.CoreV1Api(create_k8s_api_client())
    failed = False
    for path in paths:
        with open(path) as f:
            exp = yaml.safe_load(f)
        config = load_configuration(exp.get("configuration", {}))
        for act in get_all_activities_in_experiment(exp):
            prov = act.get("provider", {})
            module = prov.get("module", "")
            if prov.get("type") != "python" or not module.startswith(KUBE_MODULES):
                continue
            args = substitute(prov.get("arguments", {}), config, {})
            line = {"experiment": path.rsplit("/", 1)[-1], "activity": act["name"],
                    "call": f"{module}.{prov['func']}", "arguments": args}
            try:
                line["before"] = uids(v1, args["ns"], args["label_selector"])
                result = run_activity(act, config, {})
                line["result"] = result if isinstance(result, (dict, list, str, int, bool)) or result is None else str(result)
                line["after"] = uids(v1, args["ns"], args["label_selector"])
            except Exception as e:  # reported, and the run fails
                line["error"] = f"{type(e).__name__}: {e}"
                failed = True
            print(json.dumps(line), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
