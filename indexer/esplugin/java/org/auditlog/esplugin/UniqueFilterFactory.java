package org.auditlog.esplugin;

import org.apache.lucene.analysis.TokenStream;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;

/** {@code unique}: drop a token whose text was already seen (in the whole stream, or at the same position). */
final class UniqueFilterFactory extends AbstractTokenFilterFactory {

    private final boolean onlyOnSamePosition;

    UniqueFilterFactory(String name, Settings settings) {
        super(name);
        this.onlyOnSamePosition = settings.getAsBoolean("only_on_same_position", false);
    }

    @Override
    public TokenStream create(TokenStream input) {
        return new UniqueTokenFilter(input, onlyOnSamePosition);
    }
}
