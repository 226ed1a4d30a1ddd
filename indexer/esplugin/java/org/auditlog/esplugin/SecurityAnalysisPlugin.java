package org.auditlog.esplugin;

import java.util.Map;

import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

/**
 * The three analysis components the {@code .security} index's settings name, for a local node whose
 * distribution lacks the analysis-common module: token filters {@code pattern_capture} and
 * {@code unique}, tokenizer {@code uax_url_email}.
 */
public final class SecurityAnalysisPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            // the security index configures its pattern_capture filter with patterns: it needs settings
            "pattern_capture", AnalysisPlugin.requiresAnalysisSettings(
                (indexSettings, environment, name, settings) -> new PatternCaptureFilterFactory(name, settings)),
            "unique", (indexSettings, environment, name, settings) -> new UniqueFilterFactory(name, settings));
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("uax_url_email",
            (indexSettings, environment, name, settings) -> new UrlEmailTokenizerFactory(name, settings));
    }
}
