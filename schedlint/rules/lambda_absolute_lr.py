import libcst as cst

from schedlint.model.builder import dotted_name
from schedlint.model.cstwalk import code_children
from schedlint.model.lr_expressions import assigned_values, binding_scope, looks_like_lr, strip_call
from schedlint.rules.base import Report, clip, rule

_CLASSES = ("LambdaLR", "MultiplicativeLR")
_PASS_THROUGH = frozenset({"min", "max", "abs", "float"})


def _product_atoms(node):
    """Atoms multiplied into ``node`` (numerators only): ``args.lr * 0.1 / 2`` -> args.lr..."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        return _product_atoms(node.left) + _product_atoms(node.right)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
        return _product_atoms(node.left)
    return [node]


def _lr_texts(optimizer) -> set:
    """Dotted LR expressions (not numbers) the optimizer's group lrs are built from."""
    values = [optimizer.default_lr] + [g.lr for g in optimizer.groups or ()]
    texts = set()
    for v in values:
        if v is None:
            continue
        for atom in _product_atoms(v.node):
            text = dotted_name(atom)
            if text is not None and looks_like_lr(text):
                texts.add(text)
    return texts


def _mentions(node, texts) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if dotted_name(n) in texts:
            return True
        stack.extend(code_children(n))
    return False


class _Carrier:
    """Finds the LR expression a returned value is scaled by, following local names."""

    def __init__(self, texts, params, fn_node):
        self.texts = texts
        self.params = set(params)
        self.fn_node = fn_node  # function whose locals are followed (None for a lambda)

    def find(self, node, depth=0):
        if depth > 12:
            return None
        text = dotted_name(node)
        if text is not None:
            head = text.partition(".")[0]
            if head in self.params:
                return None  # the lambda's own argument, not the optimizer's lr
            local = assigned_values(self.fn_node, head) if self.fn_node is not None else []
            if local is None:
                return None
            if local:
                if "." in text:
                    return None
                found = [self.find(v, depth + 1) for v in local]
                return found[0] if found and all(found) else None
            return text if text in self.texts else None
        if isinstance(node, cst.BinaryOperation):
            op = node.operator
            if isinstance(op, cst.Multiply):
                return self.find(node.left, depth + 1) or self.find(node.right, depth + 1)
            if isinstance(op, cst.Divide):
                if _mentions(node.right, self.texts):
                    return None  # x / args.lr: made relative on purpose
                return self.find(node.left, depth + 1)
            if isinstance(op, (cst.Add, cst.Subtract)):
                return self.find(node.left, depth + 1) or self.find(node.right, depth + 1)
            return None
        if isinstance(node, cst.UnaryOperation):
            return self.find(node.expression, depth + 1)
        if isinstance(node, cst.IfExp):
            return self.find(node.body, depth + 1) or self.find(node.orelse, depth + 1)
        if isinstance(node, cst.Call) and dotted_name(node.func) in _PASS_THROUGH:
            for arg in node.args:
                hit = self.find(arg.value, depth + 1)
                if hit:
                    return hit
        return None


def _functions(model, sched, value):
    """(label, params, function node or None, [return expressions]) for an lr_lambda."""
    node = strip_call(value.node)
    if isinstance(node, (cst.List, cst.Tuple)):
        for el in node.elements:
            yield from _functions(model, sched, model.value(el.value))
        return
    if isinstance(node, cst.Lambda):
        params = [p.name.value for p in node.params.params]
        yield "the lambda", params, None, [node.body]
        return
    if not isinstance(node, cst.Name):
        return
    how, owner = binding_scope(sched.scope, node.value)
    defs = [f for f in model.functions.get(node.value, []) if owner is not None and
            f.scope.parent is owner]
    if len(defs) == 1:
        info = defs[0]
        yield f"`{info.name}`", list(info.params), info.node, [r.node for r in info.returns]
        return
    if how == "assigned" and not defs:
        values = assigned_values(owner.node, node.value)
        if values and len(values) == 1 and isinstance(values[0], cst.Lambda):
            lam = values[0]
            yield f"`{node.value}`", [p.name.value for p in lam.params.params], None, [lam.body]


@rule("SL106", "lambda-returns-absolute-lr", "error")
def lambda_returns_absolute_lr(model):
    """The function given to LambdaLR/MultiplicativeLR returns an LR, not a factor.

    ## What it does
    Flags `LambdaLR`/`MultiplicativeLR` whose `lr_lambda` returns a value scaled by the same
    LR expression the optimizer's groups were built with, e.g.
    `LambdaLR(opt, lambda e: args.lr * 0.95 ** e)` on `SGD(..., lr=args.lr)`.

    ## Why is this bad?
    The scheduler treats the returned value as a *factor*: LambdaLR sets each group's LR to
    `initial_lr * lr_lambda(epoch)`, MultiplicativeLR multiplies the current LR by it every
    step. Returning an absolute LR therefore gives `args.lr ** 2 * factor` (1e-3 becomes 1e-6),
    and with MultiplicativeLR the LR shrinks by `args.lr` at every step. Training runs, just
    with an LR orders of magnitude too small.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: args.lr * min(1.0, step / args.warmup))
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, step / args.warmup))
    ```
    """
    for sched in model.schedulers:
        opt = sched.optimizer
        value = sched.args.get("lr_lambda")
        if sched.cls not in _CLASSES or sched.origin != "torch" or opt is None or value is None:
            continue
        texts = _lr_texts(opt)
        if not texts:
            continue
        if any(w.optimizer is opt and opt.order < w.order < sched.order
               for w in model.lr_writes):
            continue  # the group lrs were rewritten (to multipliers?) before the scheduler
        for label, params, fn_node, returns in _functions(model, sched, value):
            carrier = _Carrier(texts, params, fn_node)
            hit = next((h for h in (carrier.find(r) for r in returns) if h), None)
            if hit is None:
                continue
            if sched.cls == "LambdaLR":
                effect = (f"LambdaLR sets each group's lr to initial_lr * lr_lambda(epoch), so "
                          f"the effective lr is {hit} * {hit} * factor")
            else:
                effect = (f"MultiplicativeLR multiplies each group's current lr by the returned "
                          f"value every step, so the lr shrinks by a factor of {hit} per step")
            yield Report(value.node,
                         f"{clip(label, 30)} given to {sched.cls} returns the lr "
                         f"`{clip(hit, 20)}` times a factor, not a pure factor",
                         help=f"`{hit}` is the lr `{sched.optimizer_src}` was built with (line "
                              f"{model.line(opt.node)}): {effect}; return the pure factor "
                              f"instead (drop `{hit} *`)")
            break
