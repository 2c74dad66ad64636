export { decodeB2mmlText, lineColumnAt } from './decode-b2mml-text';
export { readB2mmlHeader, refuseDoctype, decodeXmlText, normalizeRelease, isSupportedRelease, B2MML_NOUNS, B2MML_VERBS, type B2mmlHeader, type B2mmlNoun, type B2mmlVerb } from './b2mml-header';
export { parseB2mml, DEFAULT_B2MML_LIMITS, XML2JS_OPTIONS, type B2mmlDocument, type B2mmlLimits } from './parse-b2mml';
export { children, child, childText, textOf, attr, lineOf, type XElement, type XNode } from './x-element';
