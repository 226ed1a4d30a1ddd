package org.auditlog.esplugin;

import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.analysis.AbstractTokenizerFactory;

/** {@code uax_url_email}: Unicode word boundaries that keep URLs and e-mail addresses whole. */
final class UrlEmailTokenizerFactory extends AbstractTokenizerFactory {

    private final int maxTokenLength;

    UrlEmailTokenizerFactory(String name, Settings settings) {
        super(name);
        this.maxTokenLength = settings.getAsInt("max_token_length", StandardAnalyzer.DEFAULT_MAX_TOKEN_LENGTH);
    }

    @Override
    public Tokenizer create() {
        UAX29URLEmailTokenizer tokenizer = new UAX29URLEmailTokenizer();
        tokenizer.setMaxTokenLength(maxTokenLength);
        return tokenizer;
    }
}
