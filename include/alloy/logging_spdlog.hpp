// spdlog output targets for the JSON event log and the log hook. Optional: include it only when your
// program uses spdlog itself (it needs spdlog's headers; alloy's other headers do not).
#pragma once

#include <alloy/logging.hpp>

#include <spdlog/logger.h>
#include <spdlog/sinks/sink.h>

#include <memory>
#include <utility>

namespace alloy {

/// The spdlog level of a LogLevel.
inline spdlog::level::level_enum to_spdlog_level(LogLevel level) noexcept {
    switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
    case LogLevel::off: return spdlog::level::off;
    }
    return spdlog::level::info;
}

/// A LogSink writing to `logger` (at the line's level; the logger's own pattern and level apply).
inline LogSink spdlog_log_sink(std::shared_ptr<spdlog::logger> logger) {
    return [logger = std::move(logger)](LogLevel level, std::string_view line) {
        logger->log(to_spdlog_level(level), spdlog::string_view_t(line.data(), line.size()));
    };
}

/// A JSON event log written through `logger`. Give it the pattern "%v" to keep each line pure JSON.
inline std::shared_ptr<JsonLogObserver> json_log_observer(JsonLogOptions options,
                                                          std::shared_ptr<spdlog::logger> logger) {
    return json_log_observer(std::move(options), spdlog_log_sink(std::move(logger)));
}

/// A JSON event log written to `sink` through a new logger. Sets the sink's pattern to "%v".
inline std::shared_ptr<JsonLogObserver> json_log_observer(JsonLogOptions options,
                                                          std::shared_ptr<spdlog::sinks::sink> sink) {
    auto logger = std::make_shared<spdlog::logger>("alloy.events", std::move(sink));
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::trace);  // the observer filters by JsonLogOptions::level
    return json_log_observer(std::move(options), std::move(logger));
}

}  // namespace alloy
