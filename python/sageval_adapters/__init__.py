"""Python-callable attention backends for sageval (``--attention-backend py:MODULE:FUNCTION``).

sageval calls ``FUNCTION(q, k, v, *, causal, sm_scale, return_lse)`` with torch tensors in the HND layout
(q: [B, Hq, Nq, D]; k, v: [B, Hkv, Nk, D]), handed over without copies through DLPack. The function returns the
output ([B, Hq, Nq, D], q's dtype and device) or, when ``return_lse``, ``(output, lse)`` with lse float32
[B, Hq, Nq] (natural log). Semantics are sageval's: softmax scale ``sm_scale``; GQA (query head h reads kv head
h // (Hq // Hkv)); causal masks aligned bottom-right (query i sees key j iff j <= i + Nk - Nq).

Every function declares what it supports with :func:`capabilities`; sageval validates inputs against it and
rejects, naming the backend, what is not supported. Inputs the capabilities cannot express (e.g. a causal mask
that a library aligns differently for some shapes) are refused by raising :class:`Unsupported`, which sageval's
suites record as unsupported with the message; any other exception (NotImplementedError from torch included) is
a failure. Nothing is silently ignored.
"""


class Unsupported(NotImplementedError):
    """Raised by an adapter for inputs its library does not compute (a declared limit, not a failure)."""

_KNOWN = {"head_dims", "dtypes", "devices", "lse", "causal", "gqa", "gates", "description", "library"}


def capabilities(*, dtypes, devices, head_dims=(), lse=False, causal=True, gqa=True, gates="", description="",
                 library=""):
    """Decorator: attaches ``sageval_capabilities`` to an adapter function.

    dtypes: names among "float16", "bfloat16", "float32", "float64"; devices: among "cpu", "cuda";
    head_dims: accepted head dims (empty: any); lse: returns the log-sum-exp; causal: supports causal masks;
    gqa: supports Hq != Hkv; gates: which of sageval's accuracy gates judge it ("fp16", "sage_int8", or "" for
    none beyond finite output); library: the external library and its version, shown in reports.
    """
    caps = {"dtypes": list(dtypes), "devices": list(devices), "head_dims": list(head_dims), "lse": bool(lse),
            "causal": bool(causal), "gqa": bool(gqa), "gates": gates, "description": description,
            "library": library}

    def attach(fn):
        fn.sageval_capabilities = caps
        return fn

    return attach
