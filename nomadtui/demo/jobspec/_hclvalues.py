"""python-hcl2's values for a Lark parse tree, in one pass over the tree.

``hcl2.serialize(hcl2.transform(tree))`` first turns every Lark node into one of python-hcl2's
rule objects, each tied to its parent (a reference cycle the garbage collector must then
find), and only then serializes them: for an 8,000-key meta block the two took 1.3 s (about
160 us a key) of a 2.3 s parse, and the cycles cost a 0.15-0.25 s collection afterwards.
``values`` gives the same values straight from the tree in about 0.03 s, for the options
``_load`` uses (``OPTIONS``: ``strip_string_quotes``, no comments, no block markers, heredocs
preserved, everything else python-hcl2's default).

Each function mirrors a ``serialize`` method of python-hcl2 8.1 (``hcl2/rules/*.py``), named
in its docstring, with the adjustments ``hcl2.transformer.RuleTransformer`` makes on the way.
``dollar`` is python-hcl2's ``SerializationContext.inside_dollar_string``: inside ``${...}``
an expression is rendered as HCL source rather than as a value. Nodes a Nomad job file rarely
holds (for expressions, splats, template directives, ``<<-`` heredocs, ``\\"`` template
strings) are handed to python-hcl2 itself, one subtree at a time. ``values`` gives up (returns
None, and the caller runs python-hcl2 on the whole tree) when anything raises, so that the
error and its wording are python-hcl2's, and on a tree nested deeper than ``_MAX_DEPTH``,
where python-hcl2's recursion may run out of stack: it then fails exactly as before. And it
leaves everything to python-hcl2 other than the 8.1 releases it was checked against.
"""

from __future__ import annotations

from typing import Any

import hcl2
from hcl2.transformer import RuleTransformer
from hcl2.utils import (
    SerializationContext,
    process_escape_sequences,
    to_dollar_string,
    wrap_into_parentheses,
)
from lark import Token, Tree

OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False, preserve_heredocs=True
)

# Blocks and expressions nested deeper than this are left to python-hcl2, and so are subtrees
# it is handed that are more than _MAX_HEIGHT tree levels high. A level of nesting is at most
# 4 tree levels, and python-hcl2's transformer takes 2 stack frames a tree level: both stay
# well below Python's recursion limit of 1,000 frames, and far above any real job file.
_MAX_DEPTH = 50
_MAX_HEIGHT = 100

_MIRRORS_INSTALLED_HCL2 = hcl2.__version__.startswith("8.1.")

_LITERALS = {"true": True, "false": False, "null": None}
# object_elem_key: a key that is one of these (unparenthesized) is used as it serializes;
# any other expression becomes "${...}" (RuleTransformer.object_elem_key).
_PLAIN_KEYS = {"identifier", "string", "int_lit", "float_lit", "literal_value"}


class _GiveUp(Exception):
    pass


def values(tree: Tree) -> dict | None:
    """``hcl2.serialize(hcl2.transform(tree), serialization_options=OPTIONS)``, or None.

    None means python-hcl2 has to decide: it raises there, or the tree is very deep.
    """
    if not _MIRRORS_INSTALLED_HCL2:
        return None
    try:
        return _body(tree.children[0], 0)
    except Exception:
        return None


def _fallback(tree: Tree, dollar: bool) -> Any:
    """python-hcl2's own value for a subtree this module does not handle."""
    level, height = [tree], 0
    while level:
        height += 1
        if height > _MAX_HEIGHT:
            raise _GiveUp
        level = [child for node in level for child in node.children if isinstance(child, Tree)]
    rule = RuleTransformer().transform(tree)
    return rule.serialize(OPTIONS, SerializationContext(inside_dollar_string=dollar))


def _name(tree: Tree) -> str:
    """An identifier, or a keyword or literal used as a name (IdentifierRule.serialize)."""
    return str(tree.children[0])


def _body(tree: Tree, depth: int) -> dict:
    """BodyRule.serialize: arguments by name, blocks in a list under their type."""
    if depth > _MAX_DEPTH:
        raise _GiveUp
    result: dict[str, Any] = {}
    attributes: set[str] = set()
    for child in tree.children:
        kind = child.data
        if kind == "attribute":
            name = _name(child.children[0])
            attributes.add(name)
            result[name] = _value(child.children[2], False, depth + 1)
        elif kind == "block":
            labels = [part for part in child.children if isinstance(part, Tree)]
            name = _name(labels[0])
            if name in attributes:
                raise RuntimeError(f"Attribute {name} is already defined.")
            value = _body(labels.pop(), depth + 1)
            for label in reversed(labels[1:]):
                value = {_label(label, depth + 1): value}  # BlockRule.serialize
            result.setdefault(name, []).append(value)
    return result


def _label(tree: Tree, depth: int) -> Any:
    """A block label after the type, as BlockRule.serialize has it (with no context)."""
    if tree.data == "string":
        return _string(tree, False, depth)
    if tree.data == "new_line_or_comment":
        return "".join(str(child) for child in tree.children)  # NewLineOrCommentRule.serialize
    return _name(tree)


def _value(tree: Tree, dollar: bool, depth: int) -> Any:
    """The value of an expression (the ``serialize`` of its ExpressionRule)."""
    if depth > _MAX_DEPTH:
        raise _GiveUp
    kind = tree.data
    if kind == "expr_term":
        return _expr_term(tree, dollar, depth)
    if kind == "binary_op":
        return _binary_op(tree, dollar, depth)
    if kind == "conditional":
        return _conditional(tree, dollar, depth)
    if kind == "unary_op":
        return _unary_op(tree, dollar, depth)
    return _fallback(tree, dollar)


def _expressions(tree: Tree) -> list[Tree]:
    """The expressions among a node's children (the ``isinstance(child, ExpressionRule)`` tests)."""
    return [child for child in tree.children if isinstance(child, Tree) and child.data != "new_line_or_comment"]


def _dollar(text: str, dollar: bool) -> str:
    return text if dollar else to_dollar_string(text)


def _expr_term(tree: Tree, dollar: bool, depth: int) -> Any:
    """ExprTermRule.serialize."""
    first = tree.children[0]
    if not isinstance(first, Token):
        return _term(first, dollar, depth)
    # "(" expression ")": the only expr_term whose first child is a token.
    result = wrap_into_parentheses(_value(_expressions(tree)[0], dollar, depth + 1))
    return result if dollar else to_dollar_string(result)


def _term(tree: Tree, dollar: bool, depth: int) -> Any:
    """The serialize method of the rule for one expr_term alternative."""
    kind, deeper = tree.data, depth + 1
    if kind == "string":
        return _string(tree, dollar, depth)
    if kind == "identifier":
        return _name(tree)
    if kind == "int_lit":
        return int(str(tree.children[0]))  # IntLitRule: the token's int()
    if kind == "literal_value":
        value = str(tree.children[0])
        return value if dollar else _LITERALS.get(value, value)  # LiteralValueRule
    if kind == "float_lit":
        value = str(tree.children[0])
        if "e" in value.lower():  # FloatLitRule keeps scientific notation as an expression
            return _dollar(value, dollar)
        return float(value)
    if kind == "heredoc_template":
        return str(tree.children[0]).rstrip("\r\n\t ")  # HeredocTemplateRule, heredoc preserved
    if kind == "tuple":
        return _tuple(tree, dollar, deeper)
    if kind == "object":
        return _object(tree, dollar, deeper)
    if kind == "function_call":
        return _function_call(tree, dollar, deeper)
    if kind == "get_attr_expr_term":
        # GetAttrExprTermRule.serialize, GetAttrRule.serialize
        attr = _name(tree.children[1].children[1])
        return _dollar(f"{_value(tree.children[0], True, deeper)}.{attr}", dollar)
    if kind == "index_expr_term":
        # IndexExprTermRule.serialize, then ShortIndexRule's or SqbIndexRule's
        index = tree.children[1]
        if index.data == "short_index":
            key = f".{int(str(index.children[1]))}"
        else:
            key = f"[{_value(_expressions(index)[0], True, deeper)}]"
        return _dollar(f"{_value(tree.children[0], True, deeper)}{key}", dollar)
    return _fallback(tree, dollar)


def _string(tree: Tree, dollar: bool, depth: int) -> str:
    """StringRule.serialize: the value (escapes resolved) or, inside ``${}``, the quoted source."""
    parts = []
    for part in tree.children[1:-1]:
        content = part.children[0]
        if isinstance(content, Token):
            if content.type == "STRING_CHARS" and not dollar:
                parts.append(process_escape_sequences(str(content)))
            else:
                parts.append(str(content))  # ESCAPED_INTERPOLATION, ESCAPED_DIRECTIVE
        elif content.data == "interpolation":
            # InterpolationRule.serialize
            parts.append(to_dollar_string(_value(content.children[1], True, depth + 1)))
        else:
            return _fallback(tree, dollar)  # template directives
    return "".join(parts) if not dollar else '"' + "".join(parts) + '"'


def _tuple(tree: Tree, dollar: bool, depth: int) -> Any:
    """TupleRule.serialize."""
    elements = _expressions(tree)
    if not dollar:
        return [_value(element, False, depth) for element in elements]
    return "[" + ", ".join(str(_value(element, True, depth)) for element in elements) + "]"


def _object(tree: Tree, dollar: bool, depth: int) -> Any:
    """ObjectRule.serialize (and ObjectElemRule's)."""
    elements = [
        (elem.children[0], elem.children[2])
        for elem in tree.children
        if isinstance(elem, Tree) and elem.data == "object_elem"
    ]
    if not dollar:
        return {_key(key, False, depth): _value(value, False, depth) for key, value in elements}
    return "{" + ", ".join(f"{_key(key, True, depth)} = {_value(value, True, depth)}" for key, value in elements) + "}"


def _key(tree: Tree, dollar: bool, depth: int) -> Any:
    """ObjectElemKeyRule / ObjectElemKeyExpressionRule.serialize, as RuleTransformer picks them."""
    expr = tree.children[0]
    if expr.data == "keyword":
        return _name(expr)
    if expr.data == "expr_term" and not isinstance(expr.children[0], Token):
        inner = expr.children[0]
        if inner.data in _PLAIN_KEYS:
            result = _name(inner) if inner.data == "literal_value" else _term(inner, dollar, depth)
            return str(result) if isinstance(result, (int, float)) else result
    return _dollar(str(_value(expr, True, depth)), dollar)


def _function_call(tree: Tree, dollar: bool, depth: int) -> str:
    """FunctionCallRule.serialize (and ArgumentsRule's)."""
    names, args = [], ""
    for child in tree.children:
        if isinstance(child, Tree):
            if child.data == "identifier":
                names.append(_name(child))
            elif child.data == "arguments":
                args = ", ".join(str(_value(arg, True, depth)) for arg in _expressions(child))
                if any(isinstance(end, Token) and end.type == "ELLIPSIS" for end in child.children[-2:]):
                    args += " ..."
    return _dollar(f"{'::'.join(names)}({args})", dollar)


def _binary_op(tree: Tree, dollar: bool, depth: int) -> str:
    """BinaryOpRule.serialize (the operator loses the newline the post-lexer merged into it)."""
    term, deeper = tree.children[1], depth + 1
    operator = str(term.children[0].children[0]).strip()
    return _dollar(
        f"{_value(tree.children[0], True, deeper)} {operator} {_value(term.children[-1], True, deeper)}", dollar
    )


def _conditional(tree: Tree, dollar: bool, depth: int) -> str:
    """ConditionalRule.serialize."""
    condition, if_true, if_false = (_value(expr, True, depth + 1) for expr in _expressions(tree))
    return _dollar(f"{condition} ? {if_true} : {if_false}", dollar)


def _unary_op(tree: Tree, dollar: bool, depth: int) -> Any:
    """UnaryOpRule.serialize: a negated number stays a number."""
    operator = str(tree.children[0]).rstrip()
    operand = _value(tree.children[1], True, depth + 1)
    if dollar:
        return f"{operator}{operand}"
    if operator == "-" and isinstance(operand, (int, float)) and not isinstance(operand, bool):
        return -operand
    return to_dollar_string(f"{operator}{operand}")
