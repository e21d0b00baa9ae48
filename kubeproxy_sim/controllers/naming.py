"""Generated names: pod-template hashes, pod suffixes and EndpointSlice names.

Kubernetes names generated objects with characters from an alphabet without
vowels and look-alike digits, so no name spells a word or is misread. A
template's hash is the 32-bit FNV-1a of a canonical encoding of the template,
written in decimal and mapped digit by digit into that alphabet; it only
depends on the template, so the same template always maps to the same
ReplicaSet (which is how ``rollout undo`` finds an old revision again).
"""

from __future__ import annotations

import json
import random

from kubeproxy_sim.controllers.model import POD_DELETION_COST, Container, PodTemplate, Toleration

SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
HASH_LENGTH = 10  # the decimal digits of a 32-bit number
SUFFIX_LENGTH = 5
MAX_NAME = 63

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv1a_32(data: bytes) -> int:
    """32-bit FNV-1a: the hash family the controllers use for template hashes."""
    value = _FNV_OFFSET
    for byte in data:
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """Map each character into the safe alphabet by its code point (a digit string maps to 10 letters)."""
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in text)


def _toleration(toleration: Toleration) -> dict[str, object]:
    """One toleration as written: an empty operator stays empty (the API server stores it so, and an update that
    writes ``Equal`` changes the template), and no tolerationSeconds is not the same as 0."""
    return {"key": toleration.key, "operator": toleration.operator, "value": toleration.value,
            "effect": toleration.effect, "tolerationSeconds": toleration.seconds}


def _init_container(container: Container) -> dict[str, object]:
    """One init container: a restartPolicy only when written, so a template of sidecars alone keeps its hash."""
    entry: dict[str, object] = {"name": container.name, "image": container.image,
                                "ports": [[p.name, p.container_port, p.protocol.value] for p in container.ports]}
    if container.restart_policy:
        entry["restartPolicy"] = container.restart_policy
    return entry


def _canonical(template: PodTemplate) -> bytes:
    """A stable encoding of everything in the template, with no hash label (the hash cannot hash itself)."""
    plain = template.without_hash()
    document = {
        "labels": dict(plain.labels),
        "containers": [{"name": c.name, "image": c.image,
                        "ports": [[p.name, p.container_port, p.protocol.value] for p in c.ports]}
                       for c in plain.containers],
        "terminationGracePeriodSeconds": plain.grace_period,
    }
    if plain.host_network:  # only when set, so the hashes of templates without it stay what they were
        document["hostNetwork"] = True
    if plain.deletion_cost is not None:  # the same; as written ("0" and "-007" too, as upstream hashes them)
        document["annotations"] = {POD_DELETION_COST: plain.deletion_cost}
    if plain.init_containers:  # the same; a sidecar's entry as it was when the model kept sidecars alone
        document["initContainers"] = [_init_container(c) for c in plain.init_containers]
    if plain.tolerations:  # the same; in their written order, as upstream hashes the list
        document["tolerations"] = [_toleration(t) for t in plain.tolerations]
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def template_hash(template: PodTemplate, collisions: int = 0) -> str:
    """The pod-template-hash of a template: 10 safe characters, the same on every run."""
    data = _canonical(template)
    if collisions:
        data += collisions.to_bytes(4, "little")
    return safe_encode(f"{fnv1a_32(data):0{HASH_LENGTH}d}")


def random_suffix(rng: random.Random, length: int = SUFFIX_LENGTH) -> str:
    """The API server's generateName suffix, drawn from the injected generator."""
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(length))


def generate_name(prefix: str, rng: random.Random) -> str:
    """``prefix`` + 5 random characters, the prefix cut so that the name stays a valid 63-character name."""
    return prefix[: MAX_NAME - SUFFIX_LENGTH] + random_suffix(rng)


def stable_suffix(*parts: str) -> str:
    """5 safe characters derived from ``parts``: a generated-looking name that stays put between syncs."""
    value = fnv1a_32("\x00".join(parts).encode())
    out = []
    for _ in range(SUFFIX_LENGTH):
        value, digit = divmod(value, len(SAFE_ALPHABET))
        out.append(SAFE_ALPHABET[digit])
    return "".join(out)
