"""Every docstring example of the package runs and shows what it says."""

from __future__ import annotations

import doctest
import inspect

import embedguard
import embedguard._errors


def _docstrings():
    """(name, docstring) of the package, its classes, their methods and properties, and
    its functions: the native module's docstrings are not found by doctest's own finder."""
    yield "embedguard", embedguard.__doc__
    for name in embedguard.__all__:
        obj = getattr(embedguard, name)
        if not (inspect.isclass(obj) or callable(obj)):
            continue
        yield f"embedguard.{name}", obj.__doc__
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                doc = getattr(member, "__doc__", None)
                if attr.startswith("__") or not isinstance(doc, str):
                    continue
                yield f"embedguard.{name}.{attr}", doc


def test_every_example_runs():
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    examples = 0
    seen = set()
    for name, doc in _docstrings():
        if not doc or id(doc) in seen:
            continue
        seen.add(id(doc))
        test = parser.get_doctest(doc, {"embedguard": embedguard}, name, None, 0)
        examples += len(test.examples)
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed"
    # The examples are there: a docstring rewrite that drops them fails here.
    assert examples >= 60, examples
