/**
 * @module
 * Pages shaped like the web crawlers meet, for the tests that hold the streaming engine to
 * linkedom's values: malformed and unclosed markup, entities, script/style/comments/CDATA with
 * tag-like text, uppercase tags, unquoted and repeated attributes, tables, forms, SVG, templates;
 * and the selectors of the subset to ask of them.
 */

/** Named pages. */
export const CORPUS: Record<string, string> = {
  documentation: `<!DOCTYPE html>
<html lang="en-US"><head><meta charset="utf-8"><title>API &mdash; Guide &amp; Reference</title>
<link rel="stylesheet" href="/css/site.css"><style>a[href] > .x { content: "<a href='/no'>"; }</style>
<script>if (a < b && c > d) { document.write("<a href='/script'>x</a></div>"); }</script>
</head><body class="docs  page docs">
<header id="top"><a href="/" class="brand home">Home</a>
<nav class="main-nav"><ul class=nav>
<li class="nav-item active"><a href="/guide/" class="nav-link">Guide</a>
<li class="nav-item"><a href="/api/index.html" class="nav-link">API</a>
<li class="nav-item"><a href='/blog/?page=2&amp;sort=new' class="nav-link external" rel=nofollow>Blog</a>
<li class=nav-item><a href=/about.html>About</a></li>
</ul></nav></header>
<main id="main"><article class="doc">
<h1 class="title">Streams &lt;and&gt; parsers</h1>
<p>First paragraph with <code>&lt;a href="/code"&gt;</code> and <em>emphasis</em>.
<p>Second paragraph, unclosed, with a <a href="/ref#section">reference</a>
<div class="note">A div closes the paragraph.</div>
<!-- <a href="/comment">commented out</a> <div class="item"> -->
<![CDATA[ <a href="/cdata">cdata</a> ]]>
<table class="params"><tr><th>Name<th>Type<th>Default
<tr class="row"><td>timeout<td>number<td>3000
<tr class="row odd"><td>retries<td>number<td>1
<tr class="row"><td>proxy<td>string[]<td><i>none</i></table>
<ol><li>one<li>two<li>three<li>four<li>five</ol>
<pre>  keep   the
  spaces  </pre>
</article></main>
<footer><p>&copy; 2026 Example&nbsp;Corp &#169; &#x27;quoted&#x27; &ampnotanentity &unknown; 5 &lt 6</p></footer>
</body></html>`,

  shop: `<html><HEAD><TITLE>Shop | Products</TITLE></HEAD>
<BODY><DIV ID="grid" class="products grid">
<div class="product" data-id="1" data-sku=A-1><h2 class="name">Red <b>chair</b></h2>
<span class="price" content="12.50">$12.50</span><a href="/p/1" class="more">More</a></div>
<div class="product featured" data-id="2"><h2 class=name>Blue table</h2><span class="price">$99</span>
<a href="/p/2?ref=grid&utm=1" class="more">More</a>
<div class="product nested" data-id="2b"><h2 class="name">Nested item</h2></div></div>
<div class="product" data-id="3"><span class="price">$5</span><A HREF="/p/3">Upper</A><a href="/p/3b" HREF="/dup">dup</a></div>
<div class="product" data-id="4" data-id="dup"><h2 class="name">  Spaced
   name  </h2><img src="/i/4.png" alt="four"><input type="TEXT" name=q value="a &quot;b&quot;" disabled></div>
<form action="/search" method="GET"><select name="s"><option value="1" selected>One<option value="2">Two<option>Three</select>
<textarea name="t"><a href="/textarea">not a link</a></textarea><button type=submit>Go</button></form>
</DIV>
<svg viewBox="0 0 10 10"><linearGradient id="g1" gradientUnits="x"><stop offset="0"/></linearGradient><circle r="1" class="dot"/></svg>
<template id="tpl"><div class="product" data-id="tpl"><h2 class="name">Template</h2><a href="/tpl">t</a></div></template>
<p>Stray closers </span></div></p></p> and </br> and a <p>paragraph <p>in a paragraph
<ul><li>a<ul><li>nested a<li>nested b</ul><li>b</ul>
</BODY></HTML>`,

  malformed: `<div id=a class="x y"><span lang="en-GB">unclosed span
<div id=b><p>para <b>bold <i>both</b> italic</i> tail
<a href="/one">one <a href="/two">two</a></a>
<a href = "/spaced"  title = 'single "quotes"' >spaced</a>
<a href="/é/ü?q=ä#frag" hreflang=EN-us>unicode</a>
<a data-href="/data">data</a><a href="">empty</a><a href>bare</a><a name="anchor">no href</a>
<li>orphan li</li><td>orphan td</td>
<h2>heading <div>block in heading</div></h2>
<script type="text/template"><div class="x">in script</div></script>
<style>.x > p { color: red } </style><noscript><a href="/noscript">noscript</a></noscript>
<title>second title in body</title>
<a href="/last" class="x">last`,

  plain: `just text, no tags at all & an ampersand`,

  empty: ``,

  frameset: `<html><head><title></title></head><body>
<ul id="list"><li class="a b">1</li><li class="b">2</li><li class="a">3</li><li>4</li><li class="c">5</li><li>6</li><li>7</li></ul>
<dl><dt>Term<dd>Definition<dt>Term 2<dd>Def 2</dl>
<table><thead><tr><th>h</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr><tr><td>3</td><td>4</td></tr></tbody></table>
<a href="/x" rel="NoFollow">rel</a><a href="/y" rel="nofollow noopener">rel2</a>
<div data-x="1" data-y><span data-x="2">s</span></div>
</body></html>`,
};

/** Selectors of the subset, asked of every page. */
export const SUBSET_SELECTORS = [
  "title",
  "TITLE",
  "a",
  "a[href]",
  "A[HREF]",
  "a[HREF]",
  "#main",
  "#grid",
  "#a",
  "#b p",
  ".product",
  ".name",
  ".product .name",
  ".product > h2",
  "div.product > .price",
  "div.product h2.name b",
  "ul li",
  "ul > li",
  "ul.nav li a",
  "nav a.nav-link",
  "li:first-child",
  "li:nth-child(2)",
  "li:nth-child(odd)",
  "li:nth-child(even)",
  "li:nth-child(2n+1)",
  "li:nth-child(-n+2)",
  "li:nth-child(3n)",
  "li:nth-child(n)",
  "li:nth-child(n+3)",
  ":first-child",
  "tr:nth-child(2) td:nth-child(2)",
  "tr.row td",
  "table td",
  "td",
  "th",
  "p",
  "p b",
  "b, i",
  "h1, .title, h2",
  "[data-id]",
  "[data-id='2']",
  "[data-id=dup]",
  "[data-x=1]",
  "[data-y]",
  "a[href^='/p']",
  "a[href^=/]",
  "a[href$='.html']",
  "a[href*=page]",
  "a[href='']",
  "a[href^='']",
  "[lang|=en]",
  "[class~=b]",
  "[class~='b c']",
  "[class='a b']",
  "[class='x  y']",
  "input[type=text]",
  "input[type='text' s]",
  "a[hreflang=en-us]",
  "a[rel='nofollow' i]",
  "a[rel=nofollow]",
  "a[rel!=nofollow]",
  "*",
  "body > *",
  "html > body",
  "* > a",
  "div, span",
  "span",
  "script",
  "style",
  "noscript",
  "textarea",
  "option",
  "select > option:nth-child(2)",
  "svg lineargradient",
  "linearGradient",
  "circle.dot",
  "template",
  "template div",
  "dd",
  "dt:first-child",
  "pre",
  "code",
  "footer p",
  "img[alt]",
  "div",
  "div div",
  "div > div",
  "div#b > p",
  "article p",
  "i",
  "h2",
];

/** Selectors outside the subset: the DOM must be used, and the reason is given. */
export const DOM_ONLY_SELECTORS = [
  "li:last-child",
  "li + li",
  "h2 ~ span",
  "div:has(h2)",
  "li:not(.a)",
  "a::before",
  "li:nth-last-child(2)",
  "p:contains(x)",
];
