//! The `xi:include` elements of Asterisk's documentation, resolved the way Asterisk resolves
//! them.
//!
//! Asterisk loads its documentation with libxml2 and runs XInclude processing until no include
//! is left (`main/xml.c`, `process_xincludes`), so an include may select nodes that other
//! includes brought in. [`Expander::children`] gives that fixed point: an element's children
//! with every `xi:include` replaced, recursively, by the nodes its `xpointer(...)` selects.
//!
//! Only the XPath subset the documentation uses is understood: an absolute (or
//! document-relative) location path of child steps, each a name (or `node()`/`text()`) with
//! predicates `[@attr='value']`, `[contains(@attr, 'value')]` or `[N]`. Anything else is an
//! [`XPointerError`] naming the expression, so that a new construct in a later Asterisk is
//! reported, never silently skipped.

use std::fmt;

use roxmltree::{Document, Node};

/// The XInclude namespace.
const XINCLUDE_NS: &str = "http://www.w3.org/2001/XInclude";

/// Includes nest (an include selecting nodes that contain includes); deeper than this is a
/// cycle.
const MAX_DEPTH: usize = 16;

/// An `xi:include` the generator cannot resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XPointerError {
    /// The `xpointer` attribute as written.
    pub expression: String,
    /// Line of the `xi:include` element in the XML.
    pub line: u32,
    /// What is wrong.
    pub reason: &'static str,
}

impl fmt::Display for XPointerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: cannot resolve xi:include xpointer=\"{}\": {} (extend \
             crates/ami-catalog-gen/src/xpointer.rs)",
            self.line, self.expression, self.reason
        )
    }
}

impl std::error::Error for XPointerError {}

/// One predicate of a location step.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Predicate {
    /// `[@attr='value']`
    AttrEquals(String, String),
    /// `[contains(@attr, 'value')]`
    AttrContains(String, String),
    /// `[N]`, 1-based, among the nodes the step selected under one parent.
    Position(usize),
}

/// What a step selects among the children.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    /// Elements of this local name.
    Name(String),
    /// `node()`: every child.
    AnyNode,
    /// `text()`: text children.
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    test: Test,
    predicates: Vec<Predicate>,
}

/// Parses `xpointer(<path>)` into steps.
fn parse(expression: &str) -> Result<Vec<Step>, &'static str> {
    let path = expression
        .trim()
        .strip_prefix("xpointer(")
        .and_then(|p| p.strip_suffix(')'))
        .ok_or("not of the form xpointer(...)")?;
    let path = path.strip_prefix('/').unwrap_or(path);
    let mut steps = Vec::new();
    for raw in split_steps(path)? {
        let (name, mut rest) = match raw.find('[') {
            Some(i) => raw.split_at(i),
            None => (raw, ""),
        };
        let test = match name {
            "node()" => Test::AnyNode,
            "text()" => Test::Text,
            n if !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Test::Name(n.to_string())
            }
            _ => return Err("a step is not a plain name, node() or text()"),
        };
        let mut predicates = Vec::new();
        while !rest.is_empty() {
            let close = rest.find(']').ok_or("unclosed predicate")?;
            let body = rest.get(1..close).ok_or("empty predicate")?.trim();
            predicates.push(parse_predicate(body)?);
            rest = rest.get(close + 1..).unwrap_or("");
        }
        steps.push(Step { test, predicates });
    }
    if steps.is_empty() {
        return Err("empty path");
    }
    Ok(steps)
}

/// Splits a path at the `/` that are outside predicates.
fn split_steps(path: &str) -> Result<Vec<&str>, &'static str> {
    let mut steps = Vec::new();
    let (mut depth, mut start, mut quoted) = (0usize, 0usize, false);
    for (i, c) in path.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth = depth.checked_sub(1).ok_or("unbalanced ]")?,
            '/' if !quoted && depth == 0 => {
                steps.push(path.get(start..i).ok_or("bad step")?);
                start = i + 1;
            }
            _ => {}
        }
    }
    steps.push(path.get(start..).ok_or("bad step")?);
    if steps.iter().any(|s| s.is_empty()) {
        return Err("`//` and empty steps are not supported");
    }
    Ok(steps)
}

fn quoted(text: &str) -> Option<String> {
    let t = text.trim();
    t.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')).map(str::to_string)
}

fn parse_predicate(body: &str) -> Result<Predicate, &'static str> {
    if let Ok(n) = body.parse::<usize>() {
        return if n == 0 { Err("position 0") } else { Ok(Predicate::Position(n)) };
    }
    if let Some(args) = body.strip_prefix("contains(").and_then(|b| b.strip_suffix(')')) {
        let (attr, value) = args.split_once(',').ok_or("contains() needs two arguments")?;
        let attr =
            attr.trim().strip_prefix('@').ok_or("contains() on something else than @attr")?;
        let value = quoted(value).ok_or("contains() needs a quoted string")?;
        return Ok(Predicate::AttrContains(attr.to_string(), value));
    }
    if let Some((attr, value)) = body.split_once('=') {
        let attr =
            attr.trim().strip_prefix('@').ok_or("comparison of something else than @attr")?;
        let value = quoted(value).ok_or("comparison with something else than a quoted string")?;
        return Ok(Predicate::AttrEquals(attr.to_string(), value));
    }
    Err("unsupported predicate")
}

/// Resolves includes over one parsed document.
pub struct Expander<'a, 'input> {
    doc: &'a Document<'input>,
}

impl fmt::Debug for Expander<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expander").finish_non_exhaustive()
    }
}

impl<'a, 'input> Expander<'a, 'input> {
    /// An expander for `doc`.
    pub fn new(doc: &'a Document<'input>) -> Self {
        Expander { doc }
    }

    /// True if `node` is an `xi:include` element.
    pub fn is_include(node: Node<'_, '_>) -> bool {
        node.is_element()
            && node.tag_name().name() == "include"
            && node.tag_name().namespace() == Some(XINCLUDE_NS)
    }

    /// The children of `node` with every include replaced by what it selects (recursively).
    pub fn children(&self, node: Node<'a, 'input>) -> Result<Vec<Node<'a, 'input>>, XPointerError> {
        self.children_at(node, 0)
    }

    fn children_at(
        &self,
        node: Node<'a, 'input>,
        depth: usize,
    ) -> Result<Vec<Node<'a, 'input>>, XPointerError> {
        let mut out = Vec::new();
        for child in node.children() {
            if Self::is_include(child) {
                out.extend(self.resolve_at(child, depth + 1)?);
            } else {
                out.push(child);
            }
        }
        Ok(out)
    }

    fn resolve_at(
        &self,
        include: Node<'a, 'input>,
        depth: usize,
    ) -> Result<Vec<Node<'a, 'input>>, XPointerError> {
        let expression = include.attribute("xpointer").unwrap_or_default();
        let error = |reason| XPointerError {
            expression: expression.to_string(),
            line: self.doc.text_pos_at(include.range().start).row,
            reason,
        };
        if depth > MAX_DEPTH {
            return Err(error("includes nest too deeply (a cycle?)"));
        }
        if include.attribute("href").is_some_and(|h| !h.is_empty()) {
            return Err(error("includes of other documents (href) are not supported"));
        }
        let steps = parse(expression).map_err(error)?;
        let mut current = vec![self.doc.root()];
        for step in &steps {
            let mut next = Vec::new();
            for parent in &current {
                let children = self.children_at(*parent, depth + 1)?;
                let matching: Vec<_> =
                    children.into_iter().filter(|c| matches_test(*c, &step.test)).collect();
                let mut kept = Vec::new();
                for (i, node) in matching.iter().enumerate() {
                    if step.predicates.iter().all(|p| matches_predicate(*node, i + 1, p)) {
                        kept.push(*node);
                    }
                }
                next.extend(kept);
            }
            current = next;
        }
        if current.is_empty() {
            return Err(error("selects nothing"));
        }
        Ok(current)
    }
}

fn matches_test(node: Node<'_, '_>, test: &Test) -> bool {
    match test {
        Test::Name(name) => node.is_element() && node.tag_name().name() == name,
        Test::AnyNode => true,
        Test::Text => node.is_text(),
    }
}

fn matches_predicate(node: Node<'_, '_>, position: usize, predicate: &Predicate) -> bool {
    match predicate {
        Predicate::AttrEquals(attr, value) => node.attribute(attr.as_str()) == Some(value),
        Predicate::AttrContains(attr, value) => {
            node.attribute(attr.as_str()).is_some_and(|a| a.contains(value.as_str()))
        }
        Predicate::Position(n) => position == *n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<docs xmlns:xi="http://www.w3.org/2001/XInclude">
  <manager name="Login"><syntax>
    <parameter name="ActionID"/><parameter name="Username" required="true"/>
  </syntax></manager>
  <manager name="Ping"><syntax>
    <xi:include xpointer="xpointer(/docs/manager[@name='Login']/syntax/parameter[@name='ActionID'])"/>
  </syntax></manager>
  <managerEvent name="A"><managerEventInstance><syntax>
    <parameter name="ReportXOne"/><parameter name="Other"/><parameter name="ReportXTwo"/>
  </syntax></managerEventInstance></managerEvent>
  <managerEvent name="B"><managerEventInstance><syntax>
    <xi:include xpointer="xpointer(docs/managerEvent[@name='A']/managerEventInstance/syntax/parameter[contains(@name, 'ReportX')])"/>
  </syntax></managerEventInstance></managerEvent>
  <managerEvent name="C"><managerEventInstance><syntax>
    <xi:include xpointer="xpointer(/docs/managerEvent[@name='B']/managerEventInstance/syntax/parameter[2])"/>
  </syntax></managerEventInstance></managerEvent>
  <managerEvent name="Loop"><managerEventInstance><syntax>
    <xi:include xpointer="xpointer(/docs/managerEvent[@name='Loop']/managerEventInstance/syntax/parameter)"/>
  </syntax></managerEventInstance></managerEvent>
</docs>"#;

    fn names(nodes: &[Node<'_, '_>]) -> Vec<String> {
        nodes
            .iter()
            .filter(|n| n.is_element())
            .map(|n| n.attribute("name").unwrap_or("?").to_string())
            .collect()
    }

    fn syntax<'a, 'i>(doc: &'a Document<'i>, name: &str) -> Node<'a, 'i> {
        doc.descendants()
            .find(|n| {
                n.attribute("name") == Some(name) && n.tag_name().name().starts_with("manager")
            })
            .and_then(|n| n.descendants().find(|d| d.tag_name().name() == "syntax"))
            .unwrap()
    }

    #[test]
    fn resolves_attribute_contains_position_and_nested_includes() {
        let doc = Document::parse(DOC).unwrap();
        let x = Expander::new(&doc);
        assert_eq!(names(&x.children(syntax(&doc, "Ping")).unwrap()), ["ActionID"]);
        assert_eq!(names(&x.children(syntax(&doc, "B")).unwrap()), ["ReportXOne", "ReportXTwo"]);
        // C selects the second parameter of B, which exists only once B's include is expanded.
        assert_eq!(names(&x.children(syntax(&doc, "C")).unwrap()), ["ReportXTwo"]);
    }

    #[test]
    fn a_cycle_is_an_error_not_a_hang() {
        let doc = Document::parse(DOC).unwrap();
        let err = Expander::new(&doc).children(syntax(&doc, "Loop")).unwrap_err();
        assert!(err.reason.contains("nest too deeply"), "{err}");
        assert!(err.to_string().contains("line 18"), "{err}");
    }

    #[test]
    fn unsupported_expressions_are_reported() {
        for (expr, reason) in [
            ("/docs/manager", "not of the form"),
            ("xpointer(//parameter)", "empty steps"),
            ("xpointer(/docs/manager[last()])", "unsupported predicate"),
            ("xpointer(/docs/manager[@name=Login])", "quoted string"),
            ("xpointer(/docs/*)", "plain name"),
        ] {
            let err = parse(expr).unwrap_err();
            assert!(err.contains(reason), "{expr}: {err}");
        }
    }
}
