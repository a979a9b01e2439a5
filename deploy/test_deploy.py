"""The deployment artifacts agree with the gateway (ctest: deploy.manifests_agree_with_gateway):
the ConfigMap's configuration passes `stella-gw config validate`, the Deployment's ports, probe
paths and config mount match it, the seed's replicas and resources are there, the Services
target the container ports, and the Dockerfile is multi-stage and runs the README's setup.

    python3 deploy/test_deploy.py PATH/TO/stella-gw
"""

import os
import subprocess
import sys
import tempfile
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = None


def documents(name):
    with open(os.path.join(HERE, "k8s", name), encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def by_kind(docs, kind, name):
    for d in docs:
        if d["kind"] == kind and d["metadata"]["name"] == name:
            return d
    raise AssertionError(f"no {kind} {name}")


class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cm = by_kind(documents("configmap.yaml"), "ConfigMap", "stella-gw-config")
        docs = documents("deployment.yaml")
        cls.deploy = by_kind(docs, "Deployment", "stella-gw")
        cls.service = by_kind(docs, "Service", "stella-gw")
        cls.services_svc = by_kind(docs, "Service", "stella-gw-services")
        cls.valkey = documents("valkey.yaml")
        cls.config = yaml.safe_load(cls.cm["data"]["gateway.yaml"])["gateway"]
        cls.container = cls.deploy["spec"]["template"]["spec"]["containers"][0]

    def test_the_config_is_valid_for_the_gateway(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(self.cm["data"]["gateway.yaml"])
        try:
            r = subprocess.run([BINARY, "config", "validate", f.name], capture_output=True,
                               text=True)
        finally:
            os.unlink(f.name)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_seed_shape(self):
        self.assertEqual(self.deploy["spec"]["replicas"], 3)
        res = self.container["resources"]
        self.assertEqual(res["requests"], {"memory": "256Mi", "cpu": "250m"})
        self.assertEqual(res["limits"], {"memory": "512Mi", "cpu": "1000m"})

    def test_ports_agree_with_the_config(self):
        ports = {p["containerPort"] for p in self.container["ports"]}
        self.assertEqual(ports, {self.config["http"]["port"],
                                 self.config["transports"]["tls"]["port"]})
        self.assertEqual(ports, {8080, 9443})
        targets = {p["targetPort"] for svc in (self.service, self.services_svc)
                   for p in svc["spec"]["ports"]}
        self.assertEqual(targets, ports)
        # Service instances must reach every replica: the service-facing Service is headless.
        self.assertEqual(self.services_svc["spec"]["clusterIP"], "None")

    def test_probes_name_the_gateway_endpoints_on_its_http_port(self):
        scheme = "HTTPS" if self.config["http"]["tls"]["enabled"] else "HTTP"
        for probe, path in (("livenessProbe", "/health/live"),
                            ("readinessProbe", "/health/ready"),
                            ("startupProbe", "/health/startup")):
            get = self.container[probe]["httpGet"]
            self.assertEqual(get["path"], path)
            self.assertEqual(get["port"], self.config["http"]["port"])
            self.assertEqual(get.get("scheme", "HTTP"), scheme)

    def test_the_config_is_mounted_where_serve_reads_it(self):
        args = self.container["args"]
        config_path = args[args.index("--config") + 1]
        mounts = {m["mountPath"]: m for m in self.container["volumeMounts"]}
        self.assertIn(config_path, mounts)
        self.assertEqual(mounts[config_path]["subPath"], "gateway.yaml")
        volumes = {v["name"]: v for v in self.deploy["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes[mounts[config_path]["name"]]["configMap"]["name"],
                         self.cm["metadata"]["name"])
        certs = os.path.dirname(self.config["http"]["tls"]["certificatePath"])
        self.assertIn(certs, mounts)

    def test_valkey_is_where_the_config_looks(self):
        svc = by_kind(self.valkey, "Service", "stella-gw-valkey")
        port = svc["spec"]["ports"][0]["port"]
        self.assertIn(f"stella-gw-valkey:{port}", self.config["auth"]["replayCache"]["url"])
        self.assertEqual(self.config["rateLimiting"]["for_environment"]["valkey_connection"],
                         f"stella-gw-valkey:{port}")

    def test_pre_stop_and_drain_fit_in_the_grace_period(self):
        grace = self.deploy["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        drain = int(self.config["http"]["drainTimeout"].rstrip("s"))
        pre_stop = int(self.container["lifecycle"]["preStop"]["exec"]["command"][1])
        self.assertLess(pre_stop + drain, grace)

    def test_only_the_gateway_reaches_valkey(self):
        policy = by_kind(self.valkey, "NetworkPolicy", "stella-gw-valkey")
        allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
        self.assertEqual(allowed, self.deploy["spec"]["template"]["metadata"]["labels"])


class Dockerfile(unittest.TestCase):
    def test_multi_stage_on_debian_12_with_the_setup_script(self):
        with open(os.path.join(HERE, "Dockerfile"), encoding="utf-8") as f:
            text = f.read()
        froms = [l for l in text.splitlines() if l.startswith("FROM ")]
        self.assertEqual(len(froms), 2)
        self.assertTrue(all("debian:12" in l for l in froms))
        self.assertIn("bash scripts/setup.sh", text)
        self.assertIn("EXPOSE 8080 9443", text)


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main()
