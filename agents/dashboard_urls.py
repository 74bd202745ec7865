from django.urls import path

from agents import dashboard

urlpatterns = [
    path("", dashboard.home, name="dashboard-home"),
    path("login/", dashboard.login_view, name="dashboard-login"),
    path("logout/", dashboard.logout_view, name="dashboard-logout"),
    path("agents/<int:agent_id>/", dashboard.agent_detail, name="dashboard-agent"),
]
