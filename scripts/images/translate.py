"""Turns the chart's rendered manifests into what `podman kube play` (podman 4.3) takes.

    python3 scripts/images/translate.py RENDERED.yaml OUT_DIR

Writes OUT_DIR/pod.yaml (the Deployment and its ConfigMap, for kube play) and one
OUT_DIR/secret-NAME.yaml per Secret (for `podman secret create NAME FILE`), and prints each
translation it made, one per line. Only what podman cannot take is changed:
  - Secrets are not kube-play documents in podman 4.3: each becomes a podman secret, and its
    values are written decoded (4.3 mounts a Secret's `data` without base64-decoding it).
  - secret volumes get `optional: false` (4.3 dereferences the field without a nil check).
  - the Downward API's metadata.namespace is not supported: the release's namespace is written in.
  - gRPC probes are not run by podman: they are dropped here and the pod test asks the same
    health services itself, from a container in the pod's network.
Everything else (Service, ServiceAccount, PodDisruptionBudget, ...) has no meaning to one pod and
is left out.
"""
import base64
import os
import sys

import yaml


def main(rendered, out, namespace="default"):
    documents = [d for d in yaml.safe_load_all(open(rendered)) if d]
    notes = []
    play = []
    for document in documents:
        kind = document["kind"]
        name = document["metadata"]["name"]
        if kind == "Secret":
            document["data"] = {key: base64.b64decode(value).decode() for key, value in document.get("data", {}).items()}
            with open(os.path.join(out, f"secret-{name}.yaml"), "w") as f:
                yaml.safe_dump(document, f)
            notes.append(f"Secret {name}: a podman secret, its values decoded")
        elif kind == "ConfigMap":
            play.append(document)
        elif kind == "Deployment":
            spec = document["spec"]["template"]["spec"]
            for volume in spec.get("volumes", []):
                if "secret" in volume:
                    volume["secret"]["optional"] = False
                    notes.append(f"volume {volume['name']}: secret.optional: false written out")
            for container in spec["containers"]:
                for variable in container.get("env", []):
                    field = variable.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
                    if field == "metadata.namespace":
                        variable.pop("valueFrom")
                        variable["value"] = namespace
                        notes.append(f"{container['name']}: {variable['name']} = {namespace} (Downward API metadata.namespace)")
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    if "grpc" in container.get(probe, {}):
                        grpc = container.pop(probe)["grpc"]
                        notes.append(f"{container['name']}: {probe} (gRPC, port {grpc['port']}, service '{grpc.get('service', '')}') asked by the test instead")
            play.append(document)
        else:
            notes.append(f"{kind} {name}: left out (not part of one pod)")
    with open(os.path.join(out, "pod.yaml"), "w") as f:
        yaml.safe_dump_all(play, f, sort_keys=False)
    for note in notes:
        print(note)


if __name__ == "__main__":
    main(*sys.argv[1:])
